//! Asking the browser for a WebGPU adapter, without initialising anything: the page does it to
//! pick which engine to load, the worker to say why it trains on the CPU.

use crate::runtime::error::RuntimeError;
use crate::runtime::js::{await_promise, call, describe, get, get_string};
use crate::runtime::protocol::GpuAdapter;

/// What `navigator.gpu.requestAdapter()` said.
pub struct AdapterProbe {
    pub description: String,
    /// A software renderer (SwiftShader and the like), slower than the CPU backend.
    pub fallback: bool,
}

/// Asks for a WebGPU adapter; `Err` holds the reason there is none.
pub async fn probe_adapter() -> Result<AdapterProbe, RuntimeError> {
    let navigator = get(&js_sys::global(), "navigator");
    let gpu = get(&navigator, "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err(RuntimeError::Unavailable(
            "this browser does not offer WebGPU (navigator.gpu is missing)".into(),
        ));
    }
    let request = call(&gpu, "requestAdapter", &[])?;
    let adapter = await_promise(request).await.map_err(|e| {
        RuntimeError::Unavailable(format!("requesting a WebGPU adapter failed: {}", describe(&e)))
    })?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err(RuntimeError::Unavailable(
            "WebGPU is present but offers no GPU adapter".into(),
        ));
    }
    let info = get(&adapter, "info");
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|k| get_string(&info, k))
        .collect();
    let fallback = get(&info, "isFallbackAdapter").as_bool().unwrap_or(false)
        || get(&adapter, "isFallbackAdapter").as_bool().unwrap_or(false);
    Ok(AdapterProbe {
        description: if parts.is_empty() {
            "unnamed WebGPU adapter".into()
        } else {
            parts.join(" ")
        },
        fallback,
    })
}

/// What kind of WebGPU adapter this browser offers (`auto` trains on a hardware one).
pub async fn adapter_kind() -> GpuAdapter {
    match probe_adapter().await {
        Ok(probe) if probe.fallback => GpuAdapter::Software,
        Ok(_) => GpuAdapter::Hardware,
        Err(_) => GpuAdapter::Missing,
    }
}
