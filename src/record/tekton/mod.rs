//! Tekton `tekton.dev/v1` TaskRuns and PipelineRuns: typed model, loading, and the
//! type hints that name a run's artifacts.

pub mod hints;
pub mod load;
pub mod model;

pub use load::{Error, Record, load};
pub use model::{PipelineRun, TaskRun};
