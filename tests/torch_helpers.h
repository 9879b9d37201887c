#pragma once
// Test helpers that need LibTorch and Catch2 (tests/helpers.h has the torch-free ones): twin FCNs
// with equal parameters, and counting autograd nodes by name. Shared by test_device.cpp and the
// CUDA-only cuda/test_cuda.cpp.
#include "catch_torch.h"

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "model/fcn.h"

namespace fcnlab::test {

// Two FCNs of the two configs' (equal) architecture with the same parameters: the init plus a
// little noise, so that the zero-initialised score layers pass gradients to the backbone.
inline std::pair<FCN, FCN> twin_models(const Config& ca, const Config& cb, std::uint64_t seed) {
  torch::manual_seed(seed);
  FCN a = make_fcn(ca.model, ca.data.num_classes);
  FCN b = make_fcn(cb.model, cb.data.num_classes);
  torch::NoGradGuard no_grad;
  auto pa = a->parameters(), pb = b->parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    pa[i].add_(0.01 * torch::randn_like(pa[i]));
    pb[i].copy_(pa[i]);
  }
  return {a, b};
}

// Nodes of the autograd graph behind `t` whose name contains `part` (each node counted once).
inline int count_nodes(const torch::Tensor& t, const std::string& part) {
  std::vector<torch::autograd::Node*> todo{t.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  int n = 0;
  while (!todo.empty()) {
    auto* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(part) != std::string::npos) ++n;
    for (const auto& edge : node->next_edges()) todo.push_back(edge.function.get());
  }
  return n;
}

}  // namespace fcnlab::test
