//! Choosing where to train: WebGPU on the user's GPU when it is there and real, else burn's CPU
//! backend in wasm. Every reason for not using WebGPU is put in words for the page.

use crate::runtime::error::RuntimeError;
use crate::runtime::js::{await_promise, call, describe, get, get_string};
use crate::runtime::protocol::{Backend, BackendChoice, DeviceReport};
use burn::tensor::Device;

/// What `navigator.gpu.requestAdapter()` said.
struct AdapterProbe {
    description: String,
    fallback: bool,
}

/// Asks for a WebGPU adapter; `Err` holds the reason there is none.
async fn probe_adapter() -> Result<AdapterProbe, RuntimeError> {
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

fn cpu(reason: Option<String>) -> (Device, DeviceReport) {
    (
        Device::flex(),
        DeviceReport {
            backend: Backend::Cpu,
            adapter: "CPU (burn flex backend, wasm)".into(),
            fallback_reason: reason,
        },
    )
}

/// The device for `choice`. WebGPU is initialised at most once per worker (burn's runtime cannot
/// be re-initialised), so the caller keeps the result.
pub async fn choose(choice: BackendChoice) -> (Device, DeviceReport) {
    if choice == BackendChoice::Cpu {
        return cpu(None);
    }
    let probe = match probe_adapter().await {
        Ok(p) => p,
        Err(reason) => {
            return cpu(Some(format!(
                "WebGPU is not available: {reason}. Training runs on the CPU instead."
            )));
        }
    };
    if probe.fallback && choice == BackendChoice::Auto {
        return cpu(Some(format!(
            "Your WebGPU adapter ({}) is a software renderer, slower than the CPU backend, so training \
             runs on the CPU. Add backend=webgpu to the address to use it anyway.",
            probe.description
        )));
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => (
            device,
            DeviceReport {
                backend: Backend::Webgpu,
                adapter: probe.description,
                fallback_reason: None,
            },
        ),
        Err(e) => cpu(Some(format!(
            "WebGPU failed to start ({e}). Training runs on the CPU instead."
        ))),
    }
}

/// A label for the result file's `timing.backend`.
pub fn backend_label(report: &DeviceReport) -> String {
    if report.backend == Backend::Webgpu {
        format!("webgpu ({})", report.adapter)
    } else {
        "cpu (flex, wasm)".into()
    }
}
