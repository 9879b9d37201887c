#include "train/sgd.h"

#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace fcnlab {

namespace {

// The slot of `p` in an optimiser's state map. Its key is the parameter's TensorImpl: as a string
// (its address printed, as c10::guts::to_string prints it) in LibTorch 1.13, the pointer itself in
// LibTorch 2.x. Keys must match what torch::optim::SGD's step and load() use.
template <class StateMap>
typename StateMap::mapped_type& state_slot(StateMap& state, const torch::Tensor& p) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return state[key.str()];
  } else {
    return state[static_cast<Key>(p.unsafeGetTensorImpl())];
  }
}

}  // namespace

torch::Tensor ForeachSGD::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    std::vector<torch::Tensor> params, grads;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      params.push_back(p);
      grads.push_back(p.grad());
    }
    if (params.empty()) continue;
    // d_p = grad + weight_decay * p
    std::vector<torch::Tensor> d_p = o.weight_decay() != 0 ? at::_foreach_add(grads, params, o.weight_decay()) : grads;
    if (o.momentum() != 0) {
      // buf = momentum * buf + (1 - dampening) * d_p; a parameter's first buffer is a copy of d_p.
      std::vector<torch::Tensor> bufs(params.size()), old_bufs, old_d_p;
      for (std::size_t i = 0; i < params.size(); ++i) {
        auto& slot = state_slot(state_, params[i]);
        if (!slot) {
          auto s = std::make_unique<torch::optim::SGDParamState>();
          s->momentum_buffer(torch::clone(d_p[i]).detach());
          bufs[i] = s->momentum_buffer();
          slot = std::move(s);
        } else {
          bufs[i] = static_cast<torch::optim::SGDParamState&>(*slot).momentum_buffer();
          old_bufs.push_back(bufs[i]);
          old_d_p.push_back(d_p[i]);
        }
      }
      if (!old_bufs.empty()) {
        at::_foreach_mul_(old_bufs, o.momentum());
        at::_foreach_add_(old_bufs, old_d_p, 1 - o.dampening());
      }
      d_p = o.nesterov() ? at::_foreach_add(d_p, bufs, o.momentum()) : bufs;
    }
    at::_foreach_add_(params, d_p, -o.lr());
  }
  return loss;
}

}  // namespace fcnlab
