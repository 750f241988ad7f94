export * from './client';
export * from './errors';
export * from './ids';
export * from './types';
export * from './sanitize';
export { MAX_LIST_ITEMS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_WARNINGS } from './shapes';
export * from './urls';
