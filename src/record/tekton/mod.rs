//! Tekton `tekton.dev/v1` TaskRuns and PipelineRuns: typed model, loading, and the
//! type hints that name a run's artifacts.

pub mod api;
pub mod hints;
pub mod load;
pub mod model;

pub use load::{Error, Record, from_values, load};
pub use model::{PipelineRun, TaskRun};
