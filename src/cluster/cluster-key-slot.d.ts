// The one function of cluster-key-slot (the slot ioredis routes by) this project uses; the package ships no types.
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot (0..16383) of `key`, honouring a {hash tag}. */
  export default function calculateSlot(key: string | Buffer): number;
}
