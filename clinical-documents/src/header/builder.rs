//! Building a [`DocumentHeader`](super::DocumentHeader) from checked inputs.
