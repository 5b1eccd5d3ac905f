//! Choosing where to train: WebGPU on the user's GPU when it is there and real, else burn's CPU
//! backend in wasm. Every reason for not using WebGPU is put in words for the page. The CPU-only
//! engine (built without the `webgpu` feature, the smaller download) gives the same reasons.

use crate::runtime::adapter::probe_adapter;
use crate::runtime::protocol::{Backend, BackendChoice, DeviceReport};
use burn::tensor::Device;

fn cpu(reason: Option<String>) -> (Device, DeviceReport) {
    // More than one only in the engine built with WebAssembly threads (`runtime::threads`).
    let threads = gemm::available_threads();
    #[cfg(target_feature = "atomics")]
    let threads_note = crate::runtime::threads::shortfall();
    #[cfg(not(target_feature = "atomics"))]
    let threads_note = None;
    (
        Device::flex(),
        DeviceReport {
            backend: Backend::Cpu,
            adapter: format!(
                "CPU (burn flex backend, wasm, {threads} thread{}{})",
                if threads == 1 { "" } else { "s" },
                if FUSED { "" } else { UNFUSED }
            ),
            fallback_reason: reason,
            threads,
            threads_note,
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
    // On a software adapter with subgroups of four the products share their reads across a
    // subgroup's lanes (engine::kernels::gpu::product_shared_kernel), if the device has them.
    #[cfg(feature = "webgpu")]
    let asked_for_subgroups =
        probe.fallback && probe.subgroups_of_four && crate::runtime::adapter::request_subgroups();
    #[cfg(feature = "webgpu")]
    crate::runtime::adapter::flush_pipeline_creation();
    #[cfg(feature = "webgpu")]
    return match Device::wgpu_options().init_async().await {
        Ok(device) => {
            // The kernels' product unit suits the adapter: few loads on a software one, many
            // units in flight on a GPU.
            crate::engine::kernels::gpu::set_adapter(probe.fallback);
            crate::engine::kernels::gpu::set_subgroups_of_four(
                asked_for_subgroups && crate::runtime::adapter::device_has_subgroups(),
            );
            let report = DeviceReport {
                backend: Backend::Webgpu,
                adapter: probe.description,
                fallback_reason: None,
                threads: 0,
                threads_note: None,
            };
            (device, report)
        }
        Err(e) => cpu(Some(format!(
            "WebGPU failed to start ({e}). Training runs on the CPU instead."
        ))),
    };
    #[cfg(not(feature = "webgpu"))]
    cpu(Some(format!(
        "This page loaded its CPU engine, so training runs on the CPU ({} is not used).",
        probe.description
    )))
}

/// Whether this engine's CPU products are fused multiply-adds, as the CLI's are (crates/gemm's
/// `relaxed-simd`): not in the compat engine nor in the WebGPU engine's CPU fallback, whose
/// results can then differ from the CLI's in the last digits. Said in the device's name and the
/// result file, so that a comparison of two runs shows why.
const FUSED: bool = cfg!(feature = "relaxed-simd");
const UNFUSED: &str = ", multiply then add";

/// A label for the result file's `timing.backend`.
pub fn backend_label(report: &DeviceReport) -> String {
    if report.backend == Backend::Webgpu {
        format!("webgpu ({})", report.adapter)
    } else {
        format!("cpu (flex, wasm{})", if FUSED { "" } else { UNFUSED })
    }
}
