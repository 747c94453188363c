/**
 * VOLTTRON's `/regex/` values (auth.json fields, capability parameter restrictions, protected
 * topics): a value written between two slashes is a regular expression, matched whole.
 */

/** VOLTTRON's `_isregex`: a value of at least two characters that starts and ends with `/`. */
export function isRegexText(value: string): boolean {
  return value.length > 1 && value.startsWith('/') && value.endsWith('/');
}

/**
 * The regular expression of `/body/` matched against a whole value: `^(?:body)$`, so a top-level
 * `|` cannot make an alternative a prefix match (what auth.json's domain, address and credentials
 * and a capability's parameter restrictions use). Throws SyntaxError for an invalid body.
 */
export function wholeValueRegex(text: string): RegExp {
  return new RegExp(`^(?:${text.slice(1, -1)})$`);
}

/** Python's `$` outside MULTILINE: the end, or just before a newline that ends the text. */
const PYTHON_END = '(?=\\n?$)';

/**
 * A protected topic written `/body/` as VOLTTRON's `ProtectedPubSubTopics` matches it:
 * `re.compile('^' + body + '$').match(topic)`. That is not a whole-topic match: `^` binds to the
 * first top-level alternative and `$` to the last, so `/a|b/` protects every topic starting with
 * `a`, and `b`; and Python's `$` also matches before a final newline, so `/b/` protects `b\n`
 * (a topic its subscribers' prefix `b` receives). Both protect more than `^(?:body)$`: the safe
 * side. Python and JavaScript syntax differ beyond that (`\Z`, named groups): the body is read as
 * JavaScript. Throws SyntaxError for an invalid body.
 */
export function protectedTopicRegex(text: string): RegExp {
  const body = text.slice(1, -1);
  new RegExp(body); // Python refuses an unbalanced body too ('^' + 'a)|(b' + '$'); inside the group below it would parse
  return new RegExp(`^(?:^${pythonDollars(body)}${PYTHON_END})`);
}

/** `body` with each `$` that is an anchor (not escaped, not in a class) written as Python's. */
function pythonDollars(body: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      out += body.slice(i, i + 2);
      i += 1;
    } else if (inClass) {
      out += c;
      if (c === ']') inClass = false;
    } else if (c === '[') {
      out += c;
      inClass = true;
      if (body[i + 1] === '^') out += body[++i];
      if (body[i + 1] === ']') out += body[++i]; // `[]`, `[^]`: JavaScript closes the class here
      if (out.endsWith(']')) inClass = false;
    } else {
      out += c === '$' ? PYTHON_END : c;
    }
  }
  return out;
}
