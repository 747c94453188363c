import { describe, expect, it } from 'vitest';
import { protectedTopicRegex } from '../src/regex-text.js';

describe("protectedTopicRegex: VOLTTRON's re.compile('^' + body + '$').match(topic)", () => {
  const protects = (text: string, topic: string) => protectedTopicRegex(text).test(topic);

  it('binds ^ to the first top-level alternative and $ to the last', () => {
    expect(['a', 'abc', 'a/x', 'b'].map((t) => protects('/a|b/', t))).toEqual([true, true, true, true]);
    expect(['xb', 'bc', 'xa'].map((t) => protects('/a|b/', t))).toEqual([false, false, false]);
    expect(['ab', 'b'].map((t) => protects('/(a|b)/', t))).toEqual([false, true]); // a group keeps the whole match
  });

  it("takes Python's $: the end, or before a final newline, in the body too", () => {
    expect([protects('/b/', 'b\n'), protects('/b/', 'b\nx'), protects('/b/', 'b\n\n')]).toEqual([true, false, false]);
    expect([protects('/a$|c/', 'a\n'), protects('/a$|c/', 'ax')]).toEqual([true, false]);
    expect([protects('/[$]x/', '$x'), protects('/\\$x/', '$x'), protects('/[]$/', ''), protects('/[^]$/', 'q')]).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  it('refuses an invalid body, an unbalanced one included', () => {
    for (const bad of ['/a(/', '/a)|(b/', '/a\\/']) expect(() => protectedTopicRegex(bad), bad).toThrow(SyntaxError);
  });
});
