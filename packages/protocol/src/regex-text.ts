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
