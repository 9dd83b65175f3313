//! The served model (feature `object-store`): read through a [`ModelSource`], optionally
//! checked against the feature schema the server computes, and reloaded when the stored
//! version changes. The one reload loop of `serve-model` and `serve-mcp`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aiops_features::FeatureSchema;
use aiops_iforest::Model;
use aiops_text::error_chain;
use tokio_util::sync::CancellationToken;

use super::{ModelSource, ModelVersion};
use crate::{Error, Result};

/// What a reload returns: whether a new version was loaded, or why the stored version was
/// refused (shared: a broken version's error is kept and returned until the version changes).
pub type ReloadResult = std::result::Result<bool, Arc<Error>>;

/// A model in memory, with where and when it came from.
#[derive(Debug)]
pub struct StoredModel {
    /// The model.
    pub model: Model,
    /// The feature schema it was trained with, checked; `None` for other columns.
    pub schema: Option<FeatureSchema>,
    /// SHA-256 of its file.
    pub digest: String,
    /// Where it was read from (`s3://bucket/key` or an absolute path).
    pub location: String,
    /// When it was read.
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    version: ModelVersion,
}

/// The current model, swapped atomically when the stored object changes.
#[derive(Debug)]
pub struct ModelStore {
    source: ModelSource,
    features: Option<FeatureSchema>,
    current: RwLock<Arc<StoredModel>>,
    last_reload_error: RwLock<Option<String>>,
    /// The stored version that last failed to load, and why: not read again until it changes.
    failed: RwLock<Option<(ModelVersion, Arc<Error>)>>,
}

/// Reads the model `source` holds now and, with `features`, checks it was trained on them.
async fn load(source: &ModelSource, features: Option<&FeatureSchema>) -> Result<StoredModel> {
    let (checked, version) = source.load().await?;
    if let Some(features) = features {
        checked.check_features(features)?;
    }
    Ok(StoredModel {
        digest: checked.digest,
        model: checked.model,
        schema: checked.schema,
        location: source.display().to_owned(),
        loaded_at: chrono::Utc::now(),
        version,
    })
}

impl ModelStore {
    /// Loads the model at `source`; with `features`, every model (this one and reloaded ones)
    /// must have been trained on them.
    ///
    /// # Errors
    /// As [`ModelSource::load`], and [`Error::Schema`] or [`Error::Columns`] for a model trained
    /// on other features.
    pub async fn open(source: ModelSource, features: Option<FeatureSchema>) -> Result<Self> {
        let loaded = load(&source, features.as_ref()).await?;
        tracing::info!(model = %loaded.location, digest = %loaded.digest, features = loaded.model.forest.n_features(), "model loaded");
        Ok(Self {
            source,
            features,
            current: RwLock::new(Arc::new(loaded)),
            last_reload_error: RwLock::new(None),
            failed: RwLock::new(None),
        })
    }

    /// Where the model is read from.
    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// The model in use.
    pub fn current(&self) -> Arc<StoredModel> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Why the last reload failed, if it did, with its causes (the previous model stays in use).
    pub fn last_reload_error(&self) -> Option<String> {
        self.last_reload_error.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reloads the model when the stored version changed; returns whether a new version was
    /// loaded (its content may equal the previous one's, e.g. a good model put back after a
    /// broken one). A broken new version is refused and the current model kept.
    ///
    /// # Errors
    /// The storage error, or why the new version is unusable.
    pub async fn reload_if_changed(&self) -> ReloadResult {
        let outcome = self.try_reload().await;
        self.set_reload_error(outcome.as_ref().err().map(|e| error_chain(e.as_ref())));
        outcome
    }

    fn set_reload_error(&self, error: Option<String>) {
        *self.last_reload_error.write().unwrap_or_else(PoisonError::into_inner) = error;
    }

    async fn try_reload(&self) -> ReloadResult {
        let version = self.source.version().await?;
        let current = self.current();
        if version == current.version {
            return Ok(false);
        }
        let failed = self.failed.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some((failed, error)) = failed
            && failed == version
        {
            // The same broken object: its error stands, without reading it again.
            return Err(error);
        }
        let loaded = match load(&self.source, self.features.as_ref()).await {
            Ok(loaded) => loaded,
            Err(error) => {
                let error = Arc::new(error);
                *self.failed.write().unwrap_or_else(PoisonError::into_inner) =
                    Some((version, Arc::clone(&error)));
                return Err(error);
            }
        };
        tracing::info!(model = %loaded.location, digest = %loaded.digest, unchanged = loaded.digest == current.digest, features = loaded.model.forest.n_features(), "model reloaded");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
        Ok(true)
    }

    /// Checks for a new model every `interval` until `shutdown` is cancelled, telling
    /// `on_check` each outcome (e.g. to count reloads) except a failure repeating the previous
    /// one: a broken object is logged and counted once, not every tick. A reload that panics is
    /// reported as [`Error::ReloadTask`] and the loop goes on.
    pub fn watch(
        self: Arc<Self>,
        interval: Duration,
        shutdown: CancellationToken,
        on_check: impl Fn(&ReloadResult) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate; the model was just loaded
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => {
                        if let Some(outcome) = self.check().await {
                            on_check(&outcome);
                        }
                    }
                }
            }
        })
    }

    /// One reload, in its own task so that a panic is caught; `None` for a failure repeating
    /// the previous one.
    async fn check(self: &Arc<Self>) -> Option<ReloadResult> {
        let before = self.last_reload_error();
        let store = Arc::clone(self);
        let outcome = match tokio::spawn(async move { store.reload_if_changed().await }).await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let error = Arc::new(Error::ReloadTask(panic));
                self.set_reload_error(Some(error_chain(error.as_ref())));
                Err(error)
            }
        };
        let repeated =
            matches!(&outcome, Err(e) if before.as_deref() == Some(error_chain(e.as_ref()).as_str()));
        if repeated {
            return None;
        }
        if let Err(error) = &outcome {
            let error = error_chain(error.as_ref());
            tracing::warn!(%error, "model reload failed; keeping the current model");
        }
        Some(outcome)
    }
}
