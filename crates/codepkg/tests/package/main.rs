//! Black-box tests of the `codepkg` contract: rules, bombs and fuzzing, in one binary so the
//! hand-built zips in `support` are shared.

mod bomb;
mod fuzz;
mod rules;
mod support;
