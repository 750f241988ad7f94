import { readFileSync } from 'node:fs';

/** The variable naming the key file, for the worker, the CLI and the codec server alike. */
export const CODEC_KEYS_VARIABLE = 'PAYLOAD_CODEC_KEYS_FILE';
/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HOW_TO_MAKE_ONE = 'make one with: openssl rand -base64 32';

/** A key file that cannot be used; the message names the variable and the line, never a key. */
export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

/**
 * The payload encryption keys: the first encrypts, every one decrypts, so that a new key can be put on top while
 * payloads written under the older ones stay readable.
 */
export class CodecKeyRing {
  readonly #keys: Map<string, Buffer>;
  readonly encryptingKeyId: string;

  constructor(keys: ReadonlyArray<readonly [id: string, key: Buffer]>) {
    if (keys.length === 0) throw new CodecKeyError('a payload codec needs at least one key');
    for (const [id, key] of keys) {
      if (!KEY_ID.test(id)) throw new CodecKeyError(`key id "${id}" must be 1–64 of A-Z a-z 0-9 . _ -`);
      if (key.length !== KEY_BYTES) {
        throw new CodecKeyError(`key "${id}" is ${key.length} bytes, not ${KEY_BYTES} (${HOW_TO_MAKE_ONE})`);
      }
    }
    this.#keys = new Map(keys.map(([id, key]) => [id, Buffer.from(key)]));
    if (this.#keys.size !== keys.length) throw new CodecKeyError('the same key id is given twice');
    this.encryptingKeyId = keys[0]![0];
  }

  /** The key of `id`, if the ring holds it. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** The keys in the forms they are written in, for the log redactor. */
  secrets(): string[] {
    return [...this.#keys.values()].map((key) => key.toString('base64'));
  }

  /** Neither `util.inspect` nor `JSON.stringify` shows a key. */
  toJSON() {
    return { encryptingKeyId: this.encryptingKeyId, keyIds: this.keyIds };
  }
  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `CodecKeyRing ${JSON.stringify(this.toJSON())}`;
  }
}

/**
 * Reads a key file: one `keyId=base64key` per line, the first encrypting; blank lines and `#` comments are skipped.
 * `variable` is the name the operator set, for the message.
 */
export function readCodecKeyFile(path: string, variable: string): CodecKeyRing {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CodecKeyError(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  try {
    return parseCodecKeys(text);
  } catch (error) {
    throw new CodecKeyError(`${variable} (${path}): ${(error as Error).message}`);
  }
}

/** The `keyId=base64key` lines of a key file, as a ring. */
export function parseCodecKeys(text: string): CodecKeyRing {
  const keys: [string, Buffer][] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals <= 0) throw new CodecKeyError(`line ${index + 1} is not keyId=base64key`);
    const id = line.slice(0, equals).trim();
    const encoded = line.slice(equals + 1).trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
      throw new CodecKeyError(`line ${index + 1} (key "${id}"): the key is not base64 (${HOW_TO_MAKE_ONE})`);
    }
    keys.push([id, Buffer.from(encoded, 'base64')]);
  }
  if (keys.length === 0) throw new CodecKeyError(`holds no key (${HOW_TO_MAKE_ONE}, then write keyId=<key>)`);
  return new CodecKeyRing(keys);
}
