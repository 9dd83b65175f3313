//! The deploy step: create or update a KServe `InferenceService` (v1beta1) that serves a trained
//! model with our runtime, by server-side apply, then wait until KServe reports it Ready.
//!
//! [`DeployRequest::check`] turns flags into a [`Deployment`] (names validated as Kubernetes
//! DNS labels, the storage URI normalised); [`Deployment::manifest`] is the exact object that is
//! applied, so `--dry-run` prints what a real run would send.

use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::{Error, Result};

/// API group, version and kind of the object we manage.
const GROUP: &str = "serving.kserve.io";
const VERSION: &str = "v1beta1";
const KIND: &str = "InferenceService";
const PLURAL: &str = "inferenceservices";

/// Field manager recorded by server-side apply: the owner of the fields we set.
pub const FIELD_MANAGER: &str = "aiops";

/// Model format our runtime declares (and the `ServingRuntime` in `infra/` supports).
pub const MODEL_FORMAT: &str = "aiops-iforest";

/// How often the Ready condition is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What to deploy, as given on the command line (unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    /// `InferenceService` name (a DNS label).
    pub name: String,
    /// Namespace (a DNS label); `None` uses the client's (the kubeconfig context's, or the
    /// pod's own namespace in a cluster).
    pub namespace: Option<String>,
    /// Service account whose credentials the storage initializer uses to fetch the model.
    pub service_account: Option<String>,
    /// `ServingRuntime` to use; KServe picks one supporting the model format when absent.
    pub runtime: Option<String>,
    /// Model format name, normally [`MODEL_FORMAT`].
    pub model_format: String,
    /// Where the model lives: `s3://`, `gs://`, `pvc://`, `https://`..., or a KFP artifact URI
    /// (`minio://` is KFP's name for its S3-compatible store and becomes `s3://`).
    pub storage_uri: String,
    /// Percentage of traffic for the new model (KServe `canaryTrafficPercent`), 0-100.
    pub canary_percent: Option<u8>,
}

/// A checked deployment: every field is valid for the Kubernetes API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    request: DeployRequest,
}

/// Storage URI schemes KServe's storage initializer understands.
const STORAGE_SCHEMES: [&str; 8] =
    ["s3://", "gs://", "pvc://", "https://", "http://", "hdfs://", "webhdfs://", "oci://"];

impl DeployRequest {
    /// Validates the request, naming the first bad field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a name, namespace, service account or runtime that is not a DNS
    /// label, an empty model format, an unsupported storage URI, or a canary percentage over 100.
    pub fn check(mut self) -> Result<Deployment> {
        check_dns_label("name", &self.name)?;
        if let Some(namespace) = &self.namespace {
            check_dns_label("namespace", namespace)?;
        }
        if let Some(account) = &self.service_account {
            check_dns_subdomain("service_account", account)?;
        }
        if let Some(runtime) = &self.runtime {
            check_dns_subdomain("runtime", runtime)?;
        }
        if self.model_format.trim().is_empty() {
            return Err(invalid("model_format", "must not be empty"));
        }
        self.storage_uri = normalise_storage_uri(&self.storage_uri)?;
        if let Some(percent) = self.canary_percent.filter(|&p| p > 100) {
            return Err(invalid("canary_percent", format!("{percent} is over 100")));
        }
        Ok(Deployment { request: self })
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter { field, reason: reason.into() }
}

/// A DNS-1123 label: 1-63 lowercase alphanumerics or '-', starting and ending alphanumeric.
fn check_dns_label(field: &'static str, value: &str) -> Result<()> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (1..=63).contains(&value.len())
        && value.chars().all(|c| alnum(c) || c == '-')
        && value.starts_with(alnum)
        && value.ends_with(alnum);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "{value:?} is not a DNS label (1-63 lowercase letters, digits or '-', alphanumeric at both ends)"
            ),
        ))
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
fn check_dns_subdomain(field: &'static str, value: &str) -> Result<()> {
    if value.len() > 253 {
        return Err(invalid(field, "is longer than 253 characters"));
    }
    value.split('.').try_for_each(|label| check_dns_label(field, label)).map_err(|_| {
        invalid(field, format!("{value:?} is not a DNS subdomain (lowercase labels separated by '.')"))
    })
}

/// Accepts the schemes KServe can fetch from; KFP's `minio://` artifact URIs become `s3://`.
fn normalise_storage_uri(uri: &str) -> Result<String> {
    let uri = uri.trim();
    let uri = match uri.strip_prefix("minio://") {
        Some(rest) => format!("s3://{rest}"),
        None => uri.to_owned(),
    };
    let known = STORAGE_SCHEMES.iter().find(|scheme| uri.starts_with(*scheme));
    match known {
        Some(scheme) if uri.len() > scheme.len() && !uri.chars().any(char::is_whitespace) => Ok(uri),
        _ => Err(invalid(
            "storage_uri",
            format!(
                "{uri:?} is not a model location KServe can fetch (one of {})",
                STORAGE_SCHEMES.join(", ")
            ),
        )),
    }
}

impl Deployment {
    /// The `InferenceService` name.
    pub fn name(&self) -> &str {
        &self.request.name
    }

    /// The namespace, when one was given.
    pub fn namespace(&self) -> Option<&str> {
        self.request.namespace.as_deref()
    }

    /// The normalised storage URI.
    pub fn storage_uri(&self) -> &str {
        &self.request.storage_uri
    }

    /// The complete `InferenceService` object that is applied.
    pub fn manifest(&self) -> Value {
        let r = &self.request;
        let mut model = json!({
            "modelFormat": { "name": r.model_format },
            "protocolVersion": "v2",
            "storageUri": r.storage_uri,
        });
        if let Some(runtime) = &r.runtime {
            model["runtime"] = json!(runtime);
        }
        let mut predictor = json!({ "model": model });
        if let Some(account) = &r.service_account {
            predictor["serviceAccountName"] = json!(account);
        }
        if let Some(percent) = r.canary_percent {
            predictor["canaryTrafficPercent"] = json!(percent);
        }
        let mut metadata = json!({
            "name": r.name,
            "labels": { "app.kubernetes.io/managed-by": FIELD_MANAGER, "app.kubernetes.io/part-of": "aiops" },
        });
        if let Some(namespace) = &r.namespace {
            metadata["namespace"] = json!(namespace);
        }
        json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": KIND,
            "metadata": metadata,
            "spec": { "predictor": predictor },
        })
    }

    /// The manifest as YAML, as `aiops deploy --dry-run` prints it.
    ///
    /// # Errors
    /// [`Error::Yaml`] if serialisation fails (it does not for a checked deployment).
    pub fn manifest_yaml(&self) -> Result<String> {
        Ok(serde_saphyr::to_string(&self.manifest())?)
    }
}

/// The handle on `InferenceService`s in the deployment's namespace (else the client's).
fn inference_services(client: kube::Client, deployment: &Deployment) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, VERSION, KIND);
    let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
    let namespace = deployment.namespace().unwrap_or(client.default_namespace()).to_owned();
    Api::namespaced_with(client, &namespace, &resource)
}

/// Connects with the ambient configuration (`$KUBECONFIG`, `~/.kube/config`, or the pod's
/// service account), applies the deployment, and waits up to `timeout` for it to be Ready
/// (`None`: does not wait). Returns the URL KServe published, if it was waited for. The process
/// must have a default rustls `CryptoProvider` (the `aiops` binary installs one at start).
///
/// # Errors
/// [`Error::Kube`] when no configuration is found or the API refuses the object,
/// [`Error::DeployTimeout`] when it is not Ready in time.
pub async fn run(deployment: &Deployment, timeout: Option<Duration>) -> Result<Option<String>> {
    let client = kube::Client::try_default()
        .await
        .map_err(|source| Error::Kube { action: "connecting to the Kubernetes API".into(), source })?;
    apply(client.clone(), deployment).await?;
    match timeout {
        Some(timeout) => wait_ready(client, deployment, timeout).await,
        None => Ok(None),
    }
}

/// Creates or updates the `InferenceService` by server-side apply (forcing ownership of the
/// fields we set, so a re-run always converges on the requested model).
///
/// # Errors
/// [`Error::Kube`] when the API server refuses the object or cannot be reached.
pub async fn apply(client: kube::Client, deployment: &Deployment) -> Result<()> {
    let api = inference_services(client, deployment);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(deployment.name(), &params, &Patch::Apply(deployment.manifest())).await.map_err(|source| {
        Error::Kube { action: format!("applying InferenceService {}", deployment.name()), source }
    })?;
    Ok(())
}

/// What the `Ready` condition of an `InferenceService` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready, with the URL KServe published (if any).
    Ready {
        /// `status.url`.
        url: Option<String>,
    },
    /// Not ready yet; the condition's reason and message, when there is one.
    Pending {
        /// A human-readable explanation from KServe.
        detail: String,
    },
}

/// Reads readiness from an `InferenceService` object's `status`.
pub fn readiness(object: &Value) -> Readiness {
    let status = &object["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"));
    match ready {
        Some(condition) if condition["status"] == "True" => {
            Readiness::Ready { url: status["url"].as_str().map(str::to_owned) }
        }
        Some(condition) => {
            let text = |key: &str| condition[key].as_str().unwrap_or_default().to_owned();
            let detail =
                [text("reason"), text("message")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
            Readiness::Pending {
                detail: if detail.is_empty() { "Ready is not True".into() } else { detail.join(": ") },
            }
        }
        None => Readiness::Pending { detail: "no Ready condition yet".into() },
    }
}

/// Polls the `InferenceService` until it is Ready and returns its URL, or fails after `timeout`
/// with the last reason KServe gave.
///
/// # Errors
/// [`Error::Kube`] when reading the object fails, [`Error::DeployTimeout`] when it is not Ready
/// in time.
pub async fn wait_ready(
    client: kube::Client,
    deployment: &Deployment,
    timeout: Duration,
) -> Result<Option<String>> {
    let api = inference_services(client, deployment);
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get(deployment.name()).await.map_err(|source| Error::Kube {
            action: format!("reading InferenceService {}", deployment.name()),
            source,
        })?;
        let detail = match readiness(&serde_json::to_value(&object)?) {
            Readiness::Ready { url } => return Ok(url),
            Readiness::Pending { detail } => detail,
        };
        if Instant::now() + POLL_INTERVAL > deadline {
            return Err(Error::DeployTimeout { name: deployment.name().to_owned(), timeout, detail });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DeployRequest {
        DeployRequest {
            name: "aiops-iforest".into(),
            namespace: Some("aiops".into()),
            service_account: Some("kserve-s3".into()),
            runtime: Some("aiops-iforest".into()),
            model_format: MODEL_FORMAT.into(),
            storage_uri: "s3://models/iforest".into(),
            canary_percent: None,
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: Vec<(DeployRequest, &str)> = vec![
            (DeployRequest { name: "Bad_Name".into(), ..request() }, "name"),
            (DeployRequest { name: String::new(), ..request() }, "name"),
            (DeployRequest { name: "x".repeat(64), ..request() }, "name"),
            (DeployRequest { namespace: Some("-ns".into()), ..request() }, "namespace"),
            (DeployRequest { service_account: Some("a..b".into()), ..request() }, "service_account"),
            (DeployRequest { runtime: Some("Run time".into()), ..request() }, "runtime"),
            (DeployRequest { model_format: " ".into(), ..request() }, "model_format"),
            (DeployRequest { storage_uri: "/tmp/model".into(), ..request() }, "storage_uri"),
            (DeployRequest { storage_uri: "s3://".into(), ..request() }, "storage_uri"),
            (DeployRequest { canary_percent: Some(101), ..request() }, "canary_percent"),
        ];
        for (request, field) in cases {
            match request.clone().check() {
                Err(Error::InvalidParameter { field: got, .. }) => assert_eq!(got, field, "{request:?}"),
                other => panic!("{request:?}: expected invalid {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn kfp_minio_artifact_uris_become_s3() {
        let deployment = DeployRequest {
            storage_uri: "minio://mlpipeline/v2/artifacts/p/r/train/model".into(),
            ..request()
        }
        .check()
        .unwrap();
        assert_eq!(deployment.storage_uri(), "s3://mlpipeline/v2/artifacts/p/r/train/model");
    }

    #[test]
    fn optional_fields_appear_only_when_given() {
        let plain =
            DeployRequest { service_account: None, runtime: None, ..request() }.check().unwrap().manifest();
        let predictor = &plain["spec"]["predictor"];
        assert!(predictor.get("serviceAccountName").is_none());
        assert!(predictor.get("canaryTrafficPercent").is_none());
        assert!(predictor["model"].get("runtime").is_none());
        let canary = DeployRequest { canary_percent: Some(10), ..request() }.check().unwrap().manifest();
        assert_eq!(canary["spec"]["predictor"]["canaryTrafficPercent"], 10);
        assert_eq!(canary["spec"]["predictor"]["model"]["modelFormat"]["name"], MODEL_FORMAT);
    }

    #[test]
    fn readiness_reads_the_ready_condition() {
        let ready =
            json!({"status": {"url": "http://x", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(readiness(&ready), Readiness::Ready { url: Some("http://x".into()) });
        let failing = json!({"status": {"conditions": [
            {"type": "PredictorReady", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ModelLoadFailed", "message": "bad checksum"}]}});
        assert_eq!(
            readiness(&failing),
            Readiness::Pending { detail: "ModelLoadFailed: bad checksum".into() }
        );
        assert_eq!(readiness(&json!({})), Readiness::Pending { detail: "no Ready condition yet".into() });
    }
}
