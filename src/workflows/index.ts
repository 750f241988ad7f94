export * from './update-catalog-image';
