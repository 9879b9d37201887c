#pragma once
// SGD whose step updates all parameters of a group at once with ATen's multi-tensor (_foreach_)
// ops, as PyTorch's Python SGD does on CUDA by default (foreach): a few kernel launches per step
// instead of four per parameter tensor (about 40 tensors in FCN-VGG16, many of them biases of a
// few thousand values, for which a launch costs more than the arithmetic). The arithmetic is
// torch::optim::SGD's, op for op (weight decay, momentum with dampening, Nesterov), so on the CPU,
// where the _foreach_ ops loop over the tensors, the results are bit-identical; the state is
// SGD's own (momentum buffers in SGDParamState), so checkpoints load into either class.
#include <torch/torch.h>

namespace fcnlab {

class ForeachSGD : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace fcnlab
