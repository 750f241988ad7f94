/**
 * Text that comes from Citrix (or from whatever answers in its place: a proxy, a WAF, a wrong URL) is never trusted
 * to be short, printable or free of secrets. Everything the client quotes from a response goes through `excerpt`, and
 * every log line and CLI message through a `SecretRedactor`.
 */

const REDACTED = '[redacted]';

/** Characters quoted from a response into an error message. */
export const MAX_EXCERPT_CHARS = 300;

/**
 * Secrets in the shapes a request carries them: `Authorization` values, bearer tokens (`CwsAuth Bearer=…`,
 * `Bearer …`), and named fields in JSON, form and query encodings (`client_secret=…`, `"access_token": "…"`,
 * `"Token":"…"`, `ClientSecret`).
 */
const SECRET_PATTERNS: RegExp[] = [
  /(\bauthorization["']?\s*[:=]\s*["']?)[^\r\n"']+/gi,
  /(\bbearer\s*[=: ]\s*)[^\s"'&,;<>]+/gi,
  /((?:access_token|refresh_token|id_token|client_?secret|api_?key|password|\btoken)["']?\s*(?:%3D|[:=])\s*["']?)[^\s"'&,;<>]+/gi,
];

/**
 * Terminal control characters (C0 except tab and newline, DEL, C1: ANSI escape sequences start with ESC or CSI) and
 * Unicode bidirectional overrides, which can make a screen show something else than the text holds.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Removes terminal control characters and bidirectional overrides. */
export function stripControl(text: string): string {
  return text.replace(UNPRINTABLE, '');
}

/** Cuts `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Every spelling of `secret` that an echoed request could hold it in. */
function encodings(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
      json,
      JSON.stringify(json).slice(1, -1),
    ]),
  ];
}

/**
 * Knows the secrets of one process (the API client secret, every bearer token it has held, the Temporal API key,
 * webhook URLs) and removes them, in raw, URL-encoded, form-encoded and JSON-escaped form, plus anything shaped like a
 * credential, from a text. Secrets live in a true private field: inspecting a redactor shows none of them.
 */
export class SecretRedactor {
  readonly #known = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Remembers a secret; values shorter than four characters are too common to replace safely. */
  add(secret: string | undefined): void {
    if (typeof secret !== 'string' || secret.length < 4) return;
    for (const form of encodings(secret)) this.#known.add(form);
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so that an encoding that contains another is replaced whole.
    for (const secret of [...this.#known].sort((a, b) => b.length - a.length)) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, `$1${REDACTED}`);
    return out;
  }

  /**
   * What may be quoted from an outside text: on one line, without control characters, redacted, and at most `max`
   * characters long.
   */
  excerpt(text: string, max = MAX_EXCERPT_CHARS): string {
    // Bound first (a body may be megabytes), with room for a secret that straddles the cut.
    const head = text.slice(0, max * 4 + 512);
    const oneLine = stripControl(head.replace(/\s+/g, ' ')).trim();
    return truncate(this.redact(oneLine), max);
  }

  toJSON(): string {
    return 'SecretRedactor';
  }
}
