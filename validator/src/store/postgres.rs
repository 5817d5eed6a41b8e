//! The shared store on PostgreSQL, for many server instances.
