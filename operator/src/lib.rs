//! polyfleet's operator library: the operator's settings, the one builder of agent pod specs
//! ([`pods`]), and the pure desired-state [`planner`] that the controllers (and the local run)
//! apply.

pub mod backoff;
pub mod books;
pub mod cache;
pub mod chart_docs;
pub mod check;
pub mod children;
pub mod contract;
pub mod control;
pub mod controller;
pub mod credentials;
pub mod dataplane;
pub mod drift;
pub mod experiment;
pub mod leader;
pub mod limits;
pub mod local;
pub mod lookup;
pub mod metrics;
pub mod notices;
pub mod params;
pub mod planner;
pub mod plugin;
pub mod pods;
pub mod rbac;
pub mod rounds;
pub mod run;
pub mod settings;
pub mod stores;
