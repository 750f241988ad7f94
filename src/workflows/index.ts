export * from './update-catalog-image';
export * from './rollout';
