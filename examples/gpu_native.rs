//! The WebGPU kernels on a native wgpu adapter (Vulkan, Metal or DX12), for checking them on a
//! hardware GPU, which the bench's headless Chromium (SwiftShader) never reaches: their values
//! against the CPU backend (the e2e suite's kernel check), then the first and the steady
//! training steps of the FCN and of VGG-11 x0.25 with each product unit and with burn's own
//! operations in place of every kernel of ours. Prints one JSON object a line.
//!
//! `cargo run --release --features webgpu --example gpu_native [-- STEPS [ROUNDS]]`: the
//! variants take turns ROUNDS times (default 1), so that the host's drift falls on all alike.

use burn::tensor::Device;
use layerlab::engine::kernels::{check, gpu};
use layerlab::engine::models::{Architecture, Model, vgg};
use layerlab::engine::train::profile::{self, steady_steps};

/// Every family of kernels of ours (bits of `gpu::Family`), for the burn-only variant.
const ALL_FAMILIES: u32 = gpu::Family::Dense as u32
    | gpu::Family::Conv as u32
    | gpu::Family::Pool as u32
    | gpu::Family::Loss as u32
    | gpu::Family::Sgd as u32;

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let rounds: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (device, setup) = match Device::wgpu_options().init_with_setup() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("no wgpu adapter: {e}");
            std::process::exit(1);
        }
    };
    let info = setup.adapter.get_info();
    let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
    println!(
        "{}",
        serde_json::json!({"adapter": info.name, "driver": info.driver_info,
            "backend": format!("{:?}", info.backend), "type": format!("{:?}", info.device_type)})
    );

    let rows = pollster::block_on(check::against_cpu(&device)).unwrap_or_else(|e| {
        eprintln!("kernel check failed to run: {e}");
        std::process::exit(1);
    });
    let failed: Vec<_> = rows.iter().filter(|r| !r.passed).collect();
    println!(
        "{}",
        serde_json::json!({"kernel_check": {"compared": rows.len(), "failed": failed}})
    );

    let fcn = Model::new(Architecture::Fcn { depth: 3, width: 256 }, [1, 28, 28], 10);
    let vgg = Model::new(
        Architecture::Vgg {
            variant: vgg::Variant::Vgg11,
            width_mult: 0.25,
            batch_norm: false,
        },
        [3, 32, 32],
        10,
    );
    // (label, kernel families switched to burn's, software product unit)
    let variants = [
        ("own kernels, hardware unit", 0, false),
        ("own kernels, software unit", 0, true),
        ("burn's operations", ALL_FAMILIES, software),
    ];
    // Where an FCN step's time goes with each unit: every phase ended by a read-back, so that
    // the device's time shows (the steady steps below overlap it with the host's).
    for (label, _, software_unit) in &variants[..2] {
        gpu::set_adapter(*software_unit);
        if let Ok(p) = pollster::block_on(profile::fcn_step_profile(&device, steps)) {
            println!("{}", serde_json::json!({"variant": label, "fcn_profile": p}));
        }
    }
    let models = [
        ("fcn 3x256", &fcn, &[128, 512][..]),
        ("vgg11 x0.25", &vgg, &[32, 128][..]),
    ];
    for (model_name, model, batches) in models {
        for &batch in batches {
            for (label, disabled, software_unit) in (0..rounds).flat_map(|_| variants) {
                gpu::set_disabled(disabled);
                gpu::set_adapter(software_unit);
                match pollster::block_on(steady_steps(&device, model, batch, steps)) {
                    Ok(s) => println!(
                        "{}",
                        serde_json::json!({"model": model_name, "variant": label, "steps": s})
                    ),
                    Err(e) => println!(
                        "{}",
                        serde_json::json!({"model": model_name, "variant": label, "batch": batch, "error": e.to_string()})
                    ),
                }
            }
        }
    }
}
