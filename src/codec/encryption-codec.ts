import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { CODEC_KEYS_VARIABLE, type CodecKeyRing } from './keys';

/** The encoding and metadata key of Temporal's encryption sample, so its codec server and tools read ours. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Whether a payload is one this codec wrote. */
export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING;
}

/** A payload that names a key the ring does not hold: the key was removed too early, or comes from elsewhere. */
export class UnknownKeyError extends ValueError {
  override name = 'UnknownKeyError';
  constructor(readonly keyId: string) {
    super(
      `payload is encrypted with key "${keyId}", which ${CODEC_KEYS_VARIABLE} does not hold: ` +
        'put that key back in the file (below the encrypting one) to read it',
    );
  }
}

/**
 * AES-256-GCM over the whole serialized payload (its metadata too), as Temporal's `encryption` sample does: the
 * stored bytes are IV (12) · ciphertext · tag (16), and the metadata says only the encoding and the key id.
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: CodecKeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keys.encryptingKeyId;
    const key = this.keys.key(keyId)!;
    return payloads.map((payload) => ({
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: Buffer.from(keyId),
      },
      data: encrypt(temporal.api.common.v1.Payload.encode(payload).finish(), key),
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const keyIdBytes = payload.metadata?.[KEY_ID_METADATA];
      if (!keyIdBytes) throw new ValueError(`an encrypted payload has no ${KEY_ID_METADATA}`);
      const keyId = Buffer.from(keyIdBytes).toString();
      const key = this.keys.key(keyId);
      if (!key) throw new UnknownKeyError(keyId);
      if (!payload.data || payload.data.length < IV_BYTES + TAG_BYTES) {
        throw new ValueError(`an encrypted payload under key "${keyId}" is too short to hold any data`);
      }
      return temporal.api.common.v1.Payload.decode(decrypt(payload.data, key, keyId));
    });
  }
}

function encrypt(plain: Uint8Array, key: Buffer): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv);
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(data: Uint8Array, key: Buffer, keyId: string): Uint8Array {
  const bytes = Buffer.from(data);
  const decipher = createDecipheriv(CIPHER, key, bytes.subarray(0, IV_BYTES));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new ValueError(`an encrypted payload does not decrypt with key "${keyId}": it was altered, or the key was`);
  }
}
