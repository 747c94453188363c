#!/usr/bin/env node
// Reads vitest's JSON report and prints the one closing line CI is judged by:
// "N passed, N failed". A test file that failed to load (no assertion ran) counts as one failure,
// so a broken import can never pass as "0 failed".
import fs from 'node:fs';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`summarize-tests: cannot read ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = Number(report.numPassedTests ?? 0);
let failed = Number(report.numFailedTests ?? 0);
for (const suite of report.testResults ?? []) {
  const failedAssertions = (suite.assertionResults ?? []).filter((a) => a.status === 'failed').length;
  if (suite.status === 'failed' && failedAssertions === 0) {
    failed += 1;
    console.error(`summarize-tests: ${suite.name} failed to run: ${(suite.message ?? '').split('\n')[0]}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
