//! What a parent and its shard processes say to each other: one JSON document each way.
//!
//! A shard is a child process that runs part of a run's subscribers (see [`crate::shards`]).
//! The parent writes a [`ShardSpec`] on the child's stdin (the whole run's [`RunConfig`], which
//! subscribers are this shard's, and the run's start instant) and closes it; the child answers
//! with one [`ShardAnswer`] on stdout: either its [`ShardOutcome`] or the one-line reason it
//! measured nothing. Pipes rather than a socket or files, because the parent owns the child's
//! whole life anyway and pipes need no address, no clean-up and no permissions.
//!
//! The outcome is the collector's *raw material*, never a report: counts that add, the window
//! seqs and server counters this shard read itself, and each histogram in HdrHistogram's V2
//! encoding (base64), which is lossless. From these the parent builds exactly the report one
//! process would have built; from reports it could not (percentiles do not average).
//!
//! A production system would version this exchange; here parent and child are always the same
//! build (the same executable, or the lab runner that links this library).

use serde::{Deserialize, Serialize};

use crate::collector::{Collector, RunFacts};
use crate::config::RunConfig;
use crate::engine::{Measured, Part};
use crate::histograms::{EncodedHistograms, HistogramDecodeError};

/// What one shard is asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSpec {
    /// The whole run, as the parent was given it (its `seed` fixed, so that every shard draws
    /// the same poll phases and jitter).
    pub config: RunConfig,
    /// This shard's subscribers and the run's start.
    pub part: Part,
    /// This shard's number, from 0 (for messages).
    pub index: u32,
    /// How many shards the run has (for messages).
    pub shards: u32,
}

/// What one shard measured, in a form that crosses a process boundary unchanged.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardOutcome {
    /// The collector's sums, before any verdict.
    pub collector: Collector,
    /// The four histograms, V2 base64.
    pub histograms: EncodedHistograms,
    /// This shard's window seqs, server counters, seed and network calibration.
    pub facts: RunFacts,
}

/// A shard's one answer on stdout: what it measured, or why it measured nothing (one line).
pub type ShardAnswer = Result<ShardOutcome, String>;

impl From<Measured> for ShardOutcome {
    fn from(m: Measured) -> Self {
        Self {
            collector: m.collector,
            histograms: EncodedHistograms::encode(&m.histograms),
            facts: m.facts,
        }
    }
}

impl ShardOutcome {
    /// Back to what the shard measured, histograms decoded.
    pub fn decode(self) -> Result<Measured, HistogramDecodeError> {
        Ok(Measured {
            histograms: self.histograms.decode()?,
            collector: self.collector,
            facts: self.facts,
        })
    }
}
