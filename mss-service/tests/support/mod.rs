//! Helpers shared by test files (`mod support;`): each file uses what it needs.
#![allow(dead_code)]

pub mod dovecot;
pub mod postfix;
