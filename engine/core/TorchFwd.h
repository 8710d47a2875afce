#pragma once

// The narrow set of LibTorch headers the engine needs. torch/torch.h also pulls in the
// data loader, JIT and autograd-function machinery we do not use; this keeps every
// translation unit (and the precompiled header) smaller.
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/cuda.h>
