export * from './bundles';
export * from './citrix';
export * from './figures';
export * from './histories';
export * from './logs';
export * from './processes';
export * from './stack';
export * from './waiting';
