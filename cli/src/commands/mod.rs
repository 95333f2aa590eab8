pub mod card;
pub mod demo;
pub mod dmp;
pub mod document;
pub mod ins;
pub mod sandbox;
pub mod up;
pub mod who;
