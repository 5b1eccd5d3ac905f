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
    /// The adapter offers WebGPU's `subgroups` feature with subgroups of exactly four lanes
    /// (SwiftShader's), which the software adapter's product kernel is written for.
    pub subgroups_of_four: bool,
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
    let has_subgroups = call(&get(&adapter, "features"), "has", &["subgroups".into()])
        .ok()
        .and_then(|has| has.as_bool())
        .unwrap_or(false);
    let lanes = |key: &str| get(&info, key).as_f64();
    let subgroups_of_four =
        has_subgroups && lanes("subgroupMinSize") == Some(4.0) && lanes("subgroupMaxSize") == Some(4.0);
    Ok(AdapterProbe {
        description: if parts.is_empty() {
            "unnamed WebGPU adapter".into()
        } else {
            parts.join(" ")
        },
        fallback,
        subgroups_of_four,
    })
}

/// Makes the worker's next WebGPU devices ask for the `subgroups` feature where their adapter
/// offers it: wgpu's WebGPU backend cannot name that feature (its table of them lacks it), so
/// `GPUAdapter.prototype.requestDevice` is wrapped, and the device made says whether it has it
/// in `self.layerlabSubgroups` ([`device_has_subgroups`]). `false` where the wrapper could not
/// be installed (a page whose policy forbids `Function`): the kernels then do without.
#[cfg(feature = "webgpu")]
pub fn request_subgroups() -> bool {
    install(
        "const proto = self.GPUAdapter && GPUAdapter.prototype;\
        if (!proto || proto.requestDevice.layerlabSubgroups) return;\
        const original = proto.requestDevice;\
        proto.requestDevice = function (descriptor) {\
          const wanted = Object.assign({}, descriptor || {});\
          if (this.features.has('subgroups')) {\
            wanted.requiredFeatures = [...(wanted.requiredFeatures || []), 'subgroups'];\
          }\
          return original.call(this, wanted).then((device) => {\
            self.layerlabSubgroups = device.features.has('subgroups');\
            return device;\
          });\
        };\
        proto.requestDevice.layerlabSubgroups = true;",
    )
}

/// Sends every compute pipeline the worker creates to the GPU process at once: each
/// `createComputePipeline` is followed by an empty `queue.submit`, which flushes the commands the
/// worker has buffered for it. The browser compiles a pipeline there (SwiftShader: up to 0.7 s
/// for a product kernel) while the worker writes the next kernel's WGSL (cubecl: up to 0.6 s),
/// where it otherwise received them all at the next real submit and compiled them one after
/// another after the worker was done. `false` where it could not be installed.
#[cfg(feature = "webgpu")]
pub fn flush_pipeline_creation() -> bool {
    install(
        "const proto = self.GPUDevice && GPUDevice.prototype;\
        if (!proto || proto.createComputePipeline.layerlabFlush) return;\
        const original = proto.createComputePipeline;\
        proto.createComputePipeline = function (descriptor) {\
          const pipeline = original.call(this, descriptor);\
          this.queue.submit([]);\
          return pipeline;\
        };\
        proto.createComputePipeline.layerlabFlush = true;",
    )
}

/// Runs `body` as a function in the worker's global scope; `false` if it could not.
#[cfg(feature = "webgpu")]
fn install(body: &str) -> bool {
    use wasm_bindgen::JsCast;
    // Built through Reflect so that a policy forbidding `Function` is an error here, not a trap.
    let Ok(constructor) = get(&js_sys::global(), "Function").dyn_into::<js_sys::Function>() else {
        return false;
    };
    js_sys::Reflect::construct(&constructor, &js_sys::Array::of1(&body.into()))
        .and_then(|wrap| {
            wrap.unchecked_into::<js_sys::Function>()
                .call0(&wasm_bindgen::JsValue::UNDEFINED)
        })
        .is_ok()
}

/// Whether the last device made after [`request_subgroups`] has the `subgroups` feature.
#[cfg(feature = "webgpu")]
pub fn device_has_subgroups() -> bool {
    get(&js_sys::global(), "layerlabSubgroups").as_bool() == Some(true)
}

/// What kind of WebGPU adapter this browser offers (`auto` trains on a hardware one).
pub async fn adapter_kind() -> GpuAdapter {
    match probe_adapter().await {
        Ok(probe) if probe.fallback => GpuAdapter::Software,
        Ok(_) => GpuAdapter::Hardware,
        Err(_) => GpuAdapter::Missing,
    }
}
