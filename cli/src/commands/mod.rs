pub mod card;
pub mod demo;
pub mod document;
pub mod ins;
pub mod up;
pub mod who;
