//! The served model: read through [`aiops_artifacts::model::ModelSource`] (a local path or an
//! `s3://` URI), checked against the reference feature schema, and reloaded when the stored
//! object changes (its ETag, modification time or size).

use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use aiops_artifacts::model::{ModelSource, ModelVersion, S3Options};
use aiops_features::FeatureSchema;
use aiops_iforest::Model;
use aiops_text::error_chain;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Reads the model `source` holds now and checks it was trained on the reference features.
async fn load(source: &ModelSource) -> Result<LoadedModel> {
    let (checked, version) = source.load().await?;
    checked.check_features(&FeatureSchema::reference())?;
    Ok(LoadedModel {
        digest: checked.digest,
        model: checked.model,
        schema: checked.schema,
        source: source.display().to_owned(),
        loaded_at: chrono::Utc::now(),
        version,
    })
}

/// A model in memory, with where and when it came from.
#[derive(Debug)]
pub struct LoadedModel {
    /// The model.
    pub model: Model,
    /// The feature schema it was trained with (checked against the reference one).
    pub schema: Option<FeatureSchema>,
    /// SHA-256 of its file.
    pub digest: String,
    /// Where it was read from.
    pub source: String,
    /// When it was read.
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    version: ModelVersion,
}

/// The current model, swapped atomically when the stored object changes.
#[derive(Debug)]
pub struct ModelStore {
    source: ModelSource,
    current: RwLock<Arc<LoadedModel>>,
    last_reload_error: RwLock<Option<String>>,
    /// The stored version that last failed to load, and why: not read again until it changes.
    failed: RwLock<Option<(ModelVersion, Arc<aiops_artifacts::Error>)>>,
}

impl ModelStore {
    /// Loads the model at `source`.
    ///
    /// # Errors
    /// [`Error::Model`] when it cannot be read, is not an intact model, or was trained on other
    /// features than the reference schema.
    pub async fn open(source: ModelSource) -> Result<Self> {
        let loaded = load(&source).await?;
        tracing::info!(model = %loaded.source, digest = %loaded.digest, "model loaded");
        Ok(Self {
            source,
            current: RwLock::new(Arc::new(loaded)),
            last_reload_error: RwLock::new(None),
            failed: RwLock::new(None),
        })
    }

    /// The model in use.
    pub fn current(&self) -> Arc<LoadedModel> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Why the last reload failed, if it did, with its causes (the previous model stays in use).
    pub fn last_reload_error(&self) -> Option<String> {
        self.last_reload_error.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Reloads the model when the stored object changed; returns whether it did. A broken new
    /// object is refused and the current model kept.
    ///
    /// # Errors
    /// [`Error::Model`] when the object cannot be checked or the new one is unusable.
    pub async fn reload_if_changed(&self) -> Result<bool> {
        let outcome = self.try_reload().await;
        let error = outcome.as_ref().err().map(|e| error_chain(e));
        *self.last_reload_error.write().unwrap_or_else(std::sync::PoisonError::into_inner) = error;
        outcome
    }

    async fn try_reload(&self) -> Result<bool> {
        let version = self.source.version().await?;
        if version == self.current().version {
            return Ok(false);
        }
        let failed = self.failed.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some((failed, error)) = failed
            && failed == version
        {
            // The same broken object: its error stands, without reading it again.
            return Err(Error::Model(error));
        }
        let loaded = match load(&self.source).await {
            Ok(loaded) => loaded,
            Err(error) => {
                if let Error::Model(refused) = &error {
                    *self.failed.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some((version, Arc::clone(refused)));
                }
                return Err(error);
            }
        };
        tracing::info!(model = %loaded.source, digest = %loaded.digest, "model reloaded");
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded);
        Ok(true)
    }

    /// Checks for a new model every `interval` until `shutdown` is cancelled, telling
    /// `on_check` each outcome (e.g. [`crate::metrics::ReloadMetrics::observe`]) except a
    /// failure repeating the previous one: a broken object is logged and counted once, not every
    /// tick. A reload that panics is reported as a failure and the loop goes on.
    pub fn watch(
        self: Arc<Self>,
        interval: Duration,
        shutdown: CancellationToken,
        on_check: impl Fn(&Result<bool>) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => {
                        let before = self.last_reload_error();
                        let store = Arc::clone(&self);
                        let outcome = match tokio::spawn(async move { store.reload_if_changed().await }).await {
                            Ok(outcome) => outcome,
                            Err(panic) => {
                                let error = Error::ReloadTask(panic);
                                *self.last_reload_error.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                                    Some(error_chain(&error));
                                Err(error)
                            }
                        };
                        let repeated = matches!(&outcome, Err(e) if before.as_deref() == Some(error_chain(e).as_str()));
                        if !repeated {
                            on_check(&outcome);
                            if let Err(error) = outcome {
                                let error = error_chain(&error);
                                tracing::warn!(%error, "model reload failed; keeping the current model");
                            }
                        }
                    }
                }
            }
        })
    }
}
