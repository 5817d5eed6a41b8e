//! Placeholder until the SDK benchmarks land.

fn main() {}
