/** Payload encryption: the key ring, the AES-256-GCM codec, the data converter built on it, and the codec server. */
export * from './data-converter';
export * from './encryption-codec';
export * from './failure-converter';
export * from './keys';
export * from './server';
