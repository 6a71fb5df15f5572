//! ServiceAccounts from the Kubernetes API, through `kube` (rustls + ring) and `k8s-openapi`.
//!
//! A reflector keeps every ServiceAccount in memory: `kube::runtime::watcher` LISTs, then
//! WATCHes from the list's resourceVersion, and lists again when the watch expires (410 Gone) or
//! breaks, with kube's default backoff. The cache is *synced* after the first full list
//! (`/readyz` waits for that). A lookup that misses the cache (a ServiceAccount created a moment
//! before its pod) asks the API directly with a GET.
//!
//! Where the API is: `--kubeconfig` (its current context), else in-cluster (the pod's
//! ServiceAccount token, re-read by kube as kubelet rotates it, and `ca.crt`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::ServiceAccount;
use keyless_webhook::{ServiceAccountLookup, ServiceAccountRef};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};

/// A GET of a ServiceAccount that takes longer fails (the apiserver's webhook timeout is 10 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the Kubernetes API.
pub struct ApiClient {
    client: Client,
}

impl ApiClient {
    /// From `--kubeconfig`, else the in-cluster ServiceAccount.
    pub async fn from_config(kubeconfig: Option<&Path>) -> anyhow::Result<ApiClient> {
        let config = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                    .await
                    .with_context(|| format!("kubeconfig {}", path.display()))?
            }
            None => kube::Config::incluster().context("not in a cluster; give --kubeconfig")?,
        };
        let client = Client::try_from(config).context("cannot build the Kubernetes client")?;
        Ok(ApiClient { client })
    }
}

/// The reflector's cache of ServiceAccounts, and the client for cache misses.
pub struct ServiceAccounts {
    client: Client,
    store: Store<ServiceAccount>,
    writer: std::sync::Mutex<Option<reflector::store::Writer<ServiceAccount>>>,
}

impl ServiceAccounts {
    pub fn new(client: ApiClient) -> Arc<ServiceAccounts> {
        let (store, writer) = reflector::store();
        Arc::new(ServiceAccounts {
            client: client.client,
            store,
            writer: std::sync::Mutex::new(Some(writer)),
        })
    }

    /// True once the first LIST has filled the cache.
    pub fn synced(&self) -> bool {
        self.store.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
    }

    /// The cache, then the API on a miss. `NotFound` only when the API says 404.
    pub async fn lookup(&self, sa: &ServiceAccountRef) -> ServiceAccountLookup {
        let key = ObjectRef::new(&sa.name).within(&sa.namespace);
        if let Some(found) = self.store.get(&key) {
            return ServiceAccountLookup::Found(found.metadata.annotations.clone().unwrap_or_default());
        }
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &sa.namespace);
        match tokio::time::timeout(REQUEST_TIMEOUT, api.get_opt(&sa.name)).await {
            Ok(Ok(Some(found))) => ServiceAccountLookup::Found(found.metadata.annotations.unwrap_or_default()),
            Ok(Ok(None)) => ServiceAccountLookup::NotFound,
            Ok(Err(e)) => ServiceAccountLookup::Failed(format!("Kubernetes API: {e}")),
            Err(_) => {
                ServiceAccountLookup::Failed(format!("the Kubernetes API did not answer within {REQUEST_TIMEOUT:?}"))
            }
        }
    }

    /// Runs the reflector for the life of the process.
    pub async fn run(self: Arc<Self>) {
        let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let api: Api<ServiceAccount> = Api::all(self.client.clone());
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        let mut stream = std::pin::pin!(stream);
        let mut was_ready = false;
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                tracing::warn!(error = %e, "ServiceAccount watch failed; retrying");
            }
            if !was_ready && self.synced() {
                was_ready = true;
                tracing::info!(
                    service_accounts = self.store.state().len(),
                    "ServiceAccount cache synced"
                );
            }
        }
    }
}
