//! The served model: read from a local path or an `s3://` URI on any S3-compatible storage
//! (AWS, MinIO, moto) through the `object_store` crate, checked against the reference feature
//! schema, and reloaded when the object changes (its ETag, modification time or size).

use std::path::Path as FsPath;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aiops_artifacts::model::MAX_MODEL_BYTES;
use aiops_features::FeatureSchema;
use aiops_iforest::{MODEL_FILE_NAME, Model};
use aiops_text::error_chain;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// How to reach S3-compatible storage, besides the standard `AWS_*` environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server, e.g. `http://minio.kubeflow:9000`; `http://`
    /// endpoints are allowed explicitly.
    pub endpoint: Option<String>,
    /// Region (MinIO and moto accept any; AWS needs the bucket's).
    pub region: Option<String>,
}

/// Where the model lives.
#[derive(Debug, Clone)]
pub struct ModelSource {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    display: String,
}

/// What identifies one version of the stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectVersion {
    e_tag: Option<String>,
    last_modified: i64,
    size: u64,
}

impl ModelSource {
    /// Parses `location`: `s3://bucket/key` (a key ending in `/` means the folder's
    /// `model.iforest`), or a local file or folder (resolved by
    /// [`aiops_artifacts::model::resolve`], as every command does).
    ///
    /// # Errors
    /// [`Error::ModelLocation`] for an unusable location or S3 configuration.
    pub fn parse(location: &str, s3: &S3Options) -> Result<Self> {
        let bad = |reason: String| Error::ModelLocation { location: location.to_owned(), reason };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("the URI names no bucket".into()));
            }
            let key = if key.is_empty() || key.ends_with('/') {
                format!("{key}{MODEL_FILE_NAME}")
            } else {
                key.to_owned()
            };
            // ring is the one TLS provider (see the workspace manifest); a no-op when one is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            let store = builder.build().map_err(|e| bad(e.to_string()))?;
            let path = ObjectPath::parse(&key).map_err(|e| bad(e.to_string()))?;
            let display = format!("s3://{bucket}/{key}");
            return Ok(Self { store: Arc::new(store), path, display });
        }
        if location.contains("://") {
            return Err(bad("only local paths and s3:// URIs are supported".into()));
        }
        let file =
            aiops_artifacts::model::resolve(FsPath::new(location)).map_err(|e| bad(error_chain(&e)))?;
        let file = file.canonicalize().map_err(|e| bad(format!("{}: {e}", file.display())))?;
        let path = ObjectPath::from_absolute_path(&file).map_err(|e| bad(e.to_string()))?;
        Ok(Self { store: Arc::new(LocalFileSystem::new()), path, display: file.display().to_string() })
    }

    /// The location as shown to users (`s3://bucket/key` or an absolute path).
    pub fn display(&self) -> &str {
        &self.display
    }

    async fn version(&self) -> Result<ObjectVersion> {
        let meta = self.store.head(&self.path).await.map_err(|e| self.storage_error(&e))?;
        Ok(ObjectVersion {
            e_tag: meta.e_tag,
            last_modified: meta.last_modified.timestamp_micros(),
            size: meta.size,
        })
    }

    async fn load(&self) -> Result<LoadedModel> {
        let version = self.version().await?;
        if version.size > MAX_MODEL_BYTES {
            return Err(Error::Model {
                location: self.display.clone(),
                reason: format!("{} bytes exceed the limit of {MAX_MODEL_BYTES}", version.size),
            });
        }
        let bytes = self.store.get(&self.path).await.map_err(|e| self.storage_error(&e))?;
        let bytes = bytes.bytes().await.map_err(|e| self.storage_error(&e))?;
        let refused = |e: aiops_artifacts::Error| Error::Model {
            location: self.display.clone(),
            reason: error_chain(&e),
        };
        let checked =
            aiops_artifacts::model::LoadedModel::from_bytes(&bytes, &self.display).map_err(refused)?;
        checked.check_features(&FeatureSchema::reference()).map_err(refused)?;
        Ok(LoadedModel {
            digest: checked.digest,
            model: checked.model,
            schema: checked.schema,
            source: self.display.clone(),
            loaded_at: chrono::Utc::now(),
            version,
        })
    }

    fn storage_error(&self, error: &object_store::Error) -> Error {
        Error::Model { location: self.display.clone(), reason: error_chain(error) }
    }
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
    version: ObjectVersion,
}

/// The current model, swapped atomically when the stored object changes.
#[derive(Debug)]
pub struct ModelStore {
    source: ModelSource,
    current: RwLock<Arc<LoadedModel>>,
    last_reload_error: RwLock<Option<String>>,
    /// The stored version that last failed to load, and why: not read again until it changes.
    failed: RwLock<Option<(ObjectVersion, String)>>,
}

impl ModelStore {
    /// Loads the model at `source`.
    ///
    /// # Errors
    /// [`Error::Model`] when it cannot be read, is not an intact model, or was trained on other
    /// features than the reference schema.
    pub async fn open(source: ModelSource) -> Result<Self> {
        let loaded = source.load().await?;
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

    /// Why the last reload failed, if it did (the previous model stays in use).
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
        let error = outcome.as_ref().err().map(|e| e.to_string());
        *self.last_reload_error.write().unwrap_or_else(std::sync::PoisonError::into_inner) = error;
        outcome
    }

    async fn try_reload(&self) -> Result<bool> {
        let version = self.source.version().await?;
        if version == self.current().version {
            return Ok(false);
        }
        let failed = self.failed.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some((failed, reason)) = failed
            && failed == version
        {
            // The same broken object: its error stands, without reading it again.
            return Err(Error::Model { location: self.source.display.clone(), reason });
        }
        let loaded = match self.source.load().await {
            Ok(loaded) => loaded,
            Err(error) => {
                let reason = match &error {
                    Error::Model { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                *self.failed.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((version, reason));
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
                                let reason = format!("the reload task failed: {panic}");
                                let error = Error::Model { location: self.source.display.clone(), reason };
                                *self.last_reload_error.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                                    Some(error.to_string());
                                Err(error)
                            }
                        };
                        let repeated = matches!(&outcome, Err(e) if before.as_deref() == Some(e.to_string().as_str()));
                        if !repeated {
                            on_check(&outcome);
                            if let Err(error) = outcome {
                                tracing::warn!(%error, "model reload failed; keeping the current model");
                            }
                        }
                    }
                }
            }
        })
    }
}
