//! (being written)

pub mod directory;
