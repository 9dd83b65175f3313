//! Models in object storage (feature `object-store`): a local file or folder, or an `s3://` URI
//! on any S3-compatible storage (AWS, MinIO, moto) through the `object_store` crate, read with
//! the same size limit and checks as [`super::read`], and versioned (ETag, modification time,
//! size) so that servers reload a model only when it changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiops_iforest::MODEL_FILE_NAME;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::{LoadedModel, MAX_MODEL_BYTES, resolve};
use crate::{Error, Result};

/// How to reach S3-compatible storage, besides the standard `AWS_*` environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server, e.g. `http://minio.kubeflow:9000`; `http://`
    /// endpoints are allowed explicitly.
    pub endpoint: Option<String>,
    /// Region (MinIO and moto accept any; AWS needs the bucket's).
    pub region: Option<String>,
}

/// Where a model lives: a local file (resolved once) or an object in S3-compatible storage.
#[derive(Debug, Clone)]
pub struct ModelSource {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    display: String,
}

/// What identifies one version of a stored model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersion {
    e_tag: Option<String>,
    last_modified: i64,
    size: u64,
}

impl ModelVersion {
    fn of(meta: ObjectMeta) -> Self {
        Self { e_tag: meta.e_tag, last_modified: meta.last_modified.timestamp_micros(), size: meta.size }
    }
}

impl ModelSource {
    /// Parses `location`: `s3://bucket/key` (a key ending in `/`, or none, means the folder's
    /// `model.iforest`), or a local file or folder (resolved by [`resolve`], as every command
    /// does).
    ///
    /// ```
    /// use aiops_artifacts::model::{ModelSource, S3Options};
    /// let source = ModelSource::parse("s3://models/aiops/", &S3Options::default()).unwrap();
    /// assert_eq!(source.display(), "s3://models/aiops/model.iforest");
    /// assert!(ModelSource::parse("gs://models/m", &S3Options::default()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Location`] for a URI without a bucket or of another scheme,
    /// [`Error::ObjectStore`] or [`Error::ObjectPath`] for an unusable S3 configuration or key,
    /// and as [`resolve`] for a local path.
    pub fn parse(location: &str, s3: &S3Options) -> Result<Self> {
        let bad = |reason| Error::Location { location: location.to_owned(), reason };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("the URI names no bucket"));
            }
            let key = if key.is_empty() || key.ends_with('/') {
                format!("{key}{MODEL_FILE_NAME}")
            } else {
                key.to_owned()
            };
            let display = format!("s3://{bucket}/{key}");
            // ring is the one TLS provider (see the workspace manifest); a no-op when one is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            let store =
                builder.build().map_err(|source| Error::ObjectStore { location: display.clone(), source })?;
            let path = ObjectPath::parse(&key)
                .map_err(|source| Error::ObjectPath { location: display.clone(), source })?;
            return Ok(Self { store: Arc::new(store), path, display });
        }
        if location.contains("://") {
            return Err(bad("only local paths and s3:// URIs are supported"));
        }
        let file = resolve(Path::new(location))?;
        let file = file.canonicalize().map_err(|source| Error::Io { path: file.clone(), source })?;
        let display = file.display().to_string();
        let path = ObjectPath::from_absolute_path(&file)
            .map_err(|source| Error::ObjectPath { location: display.clone(), source })?;
        Ok(Self { store: Arc::new(LocalFileSystem::new()), path, display })
    }

    /// The location as shown to users (`s3://bucket/key` or an absolute path).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The version of the model stored now.
    ///
    /// # Errors
    /// [`Error::ObjectStore`] when the storage cannot say.
    pub async fn version(&self) -> Result<ModelVersion> {
        let meta = self.store.head(&self.path).await.map_err(|e| self.storage_error(e))?;
        Ok(ModelVersion::of(meta))
    }

    /// Reads and checks the model stored now, refusing one above [`MAX_MODEL_BYTES`] before
    /// reading its body; returns it with the version read. The size and version are those of
    /// the object the one `GET` answers with (its `Content-Length`, which bounds the body
    /// read), so an object replaced since a [`Self::version`] cannot pass the limit.
    ///
    /// # Errors
    /// [`Error::ObjectStore`], [`Error::ModelTooLarge`], else as [`LoadedModel::from_bytes`].
    pub async fn load(&self) -> Result<(LoadedModel, ModelVersion)> {
        let answer = self.store.get(&self.path).await.map_err(|e| self.storage_error(e))?;
        let version = ModelVersion::of(answer.meta.clone());
        if version.size > MAX_MODEL_BYTES {
            return Err(Error::ModelTooLarge {
                path: PathBuf::from(&self.display),
                bytes: version.size,
                limit: MAX_MODEL_BYTES,
            });
        }
        let bytes = answer.bytes().await.map_err(|e| self.storage_error(e))?;
        Ok((LoadedModel::from_bytes(&bytes, &self.display)?, version))
    }

    fn storage_error(&self, source: object_store::Error) -> Error {
        Error::ObjectStore { location: self.display.clone(), source }
    }
}
