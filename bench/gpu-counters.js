// Counts what a page asks of WebGPU: compute pipelines created (sync and async), shader modules,
// compute dispatches and queue submissions, in `self.__gpuCounts`. Injected by bench/run.mjs
// before any script of a page (TF.js's) or of a worker (LayerLab's engine) runs, so both are
// counted by the same code.
(() => {
  if (typeof GPUDevice === 'undefined' || self.__gpuCounts) return;
  const counts = { pipelines: 0, shaderModules: 0, dispatches: 0, submits: 0 };
  self.__gpuCounts = counts;
  const wrap = (proto, name, key) => {
    const original = proto[name];
    if (typeof original !== 'function') return;
    proto[name] = function (...args) {
      counts[key] += 1;
      return original.apply(this, args);
    };
  };
  wrap(GPUDevice.prototype, 'createComputePipeline', 'pipelines');
  wrap(GPUDevice.prototype, 'createComputePipelineAsync', 'pipelines');
  wrap(GPUDevice.prototype, 'createShaderModule', 'shaderModules');
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', 'dispatches');
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', 'dispatches');
  wrap(GPUQueue.prototype, 'submit', 'submits');
})();
