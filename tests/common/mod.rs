//! What several integration tests share, one job per file: `contract`, the
//! requests every API server is sent and the statuses it must answer;
//! `record`, a figure's JSON record read back (its tables, a column by
//! name, a cell's number). Each test binary that needs one says `mod
//! common;`.

#![allow(dead_code)] // each test binary uses part of these modules

pub mod contract;
pub mod record;
