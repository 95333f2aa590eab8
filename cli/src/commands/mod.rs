pub mod card;
pub mod demo;
pub mod ins;
pub mod up;
pub mod who;
