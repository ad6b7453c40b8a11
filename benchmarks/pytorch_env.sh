# SPDX-License-Identifier: MIT
# lamina benchmarks: what the PyTorch comparisons share, sourced by compare_pytorch*.sh after they
# set $root: Debian's python with python3-torch (or a message and exit 1), OPENBLAS_CORETYPE for
# this CPU's best OpenBLAS kernels (the OpenMP build, libopenblas0-openmp, gives PyTorch its fast
# ones), the MNIST files in $data, and build_benchmark TARGET, which builds lamina's program in
# $build (CMake Release).
python=/usr/bin/python3  # Debian's python, where python3-torch lives
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "PyTorch is not installed: apt-get install python3-torch libopenblas0-openmp" >&2
  exit 1
fi
if grep -qw avx512f /proc/cpuinfo; then coretype=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then coretype=Haswell; else coretype=""; fi
torch_description="PyTorch $("$python" -c 'import torch; print(torch.__version__)'), $("$python" -c 'import torch; print(torch.__config__.show())' | grep -o 'BLAS_INFO=[a-z]*' || echo 'BLAS unknown'), OPENBLAS_CORETYPE=${coretype:-default}"
"$root/data/fetch_mnist.sh" >/dev/null
data="${LAMINA_MNIST_DIR:-$root/data/mnist}"
build="${LAMINA_BUILD_DIR:-$root/build}"
build_benchmark() {
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target "$1" --parallel "$(nproc)" >/dev/null
}
