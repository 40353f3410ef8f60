#!/usr/bin/env bash
# The Phoenix owner's one validation script (Ryzen 7040/8040: Radeon 780M iGPU + XDNA NPU).
# Runs every check the project cannot run without the hardware and writes one report, in the
# layout of docs/phoenix-validation-report.md. Every section that cannot run says why in the
# report, and the report is still written; on a machine without Phoenix hardware the devices run
# emulated and the report says so at the top and in each section.
#
#   scripts/phoenix-validate.sh [-o REPORT.md] [-m MODEL.gguf] [--quick]
#
# Sections (docs/phoenix-validation-report.md says what each figure is):
#   1. Machine: the plugin's hardware probe, CPU, kernel, ROCm/XRT versions.
#   2. Build: scripts/phoenix-install.sh (the gfx11 code object, the NPU kernel files); devices.
#   3. test-backend-ops on UNICORN_NPU0 (UNICORN_ATTN=npu) and UNICORN_IGPU0 (UNICORN_ATTN=igpu).
#   4. KL divergence of Unicorn's logits against the CPU backend's (llama-perplexity).
#   5. Peers: llama.cpp's Vulkan and HIP backends built from the same pinned source.
#   6. llama-bench pp512 / tg128 for Unicorn, Vulkan, HIP and the CPU, on Gemma 3 270M and the
#      generated Gemma3n E2B / E4B, with energy per token: package power (RAPL energy counter,
#      /sys/class/powercap) and GPU power (amdgpu hwmon power1_average / power1_input, and
#      gpu_metrics v2.x average_socket_power / average_gfx_power) sampled during each run.
#   7. NPU calibration (command latency, DMA GB/s, cycles per tile), measured by the plugin
#      (unicorn_npu_calibration) and written to $UNICORN_CACHE/placement.txt, which the
#      placement's cost model reads (docs/placement.md).
#   8. Placement: the verdict UNICORN_ATTN=auto takes (measured on first use) and the file.
# --quick (the integration test's cheap mode): one op per device, 2 chunks of KL divergence,
# llama-bench -p 32 -n 8 -r 1 on Gemma 3 270M only, no peer build, no Gemma3n generation.
# Exit status: 0 when every check that ran passed (skipped sections do not fail), 1 otherwise.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

report=$here/phoenix-validation-report.md model="" quick=no
while [ $# -gt 0 ]; do
  case $1 in
  -o) report=$2; shift 2 ;;
  -m) model=$2; shift 2 ;;
  --quick) quick=yes; shift ;;
  *) echo "usage: $0 [-o REPORT.md] [-m MODEL.gguf] [--quick]" >&2; exit 2 ;;
  esac
done
report=$(realpath -m "$report")
mkdir -p "$(dirname "$report")"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bin=$here/build/bin
failed=()

out() { printf '%s\n' "$*" >> "$report"; }
section() { printf '\n## %s\n\n' "$1" >> "$report"; say "== $1"; }
skip() { out "- skipped: $*"; say "skipped: $*"; }
fence() { out '```'; cat >> "$report"; out '```'; }

# ---- 1. machine ------------------------------------------------------------------------------
printf '# Unicorn on a Phoenix APU: validation report\n\n' > "$report"
out "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), mode: $([ $quick = yes ] && echo quick || echo full)"
section "1. Machine"
install_deps >&2 && build_all >&2 || { out "- FAILED: the build (scripts/common.sh build_all); nothing else can run"; exit 1; }
probe=$(hardware_probe 2>&1) || probe="probe failed: $probe"
phoenix=no; grep -qx 'phoenix=yes' <<< "$probe" && phoenix=yes
if [ $phoenix = no ]; then
  out "**NO PHOENIX HARDWARE: the plugin's probe found neither the XDNA NPU nor a gfx1103 iGPU. The"
  out "devices below run EMULATED on the CPU (UNICORN_EMULATE=1); no figure in this report describes"
  out "a Phoenix APU.**"
  out
  export UNICORN_EMULATE=1
elif grep -qx 'override=phoenix' <<< "$probe"; then
  out "**The probe is OVERRIDDEN (UNICORN_PROBE_OVERRIDE=phoenix): there is no such hardware here.**"
  out
fi
{ echo "$probe"; uname -sr; grep -m1 'model name' /proc/cpuinfo
  { command -v hipcc >/dev/null || [ -x /opt/rocm/bin/hipcc ]; } && echo "ROCm: $(cat /opt/rocm/.info/version 2>/dev/null || echo 'hipcc present, version file missing')" || echo "ROCm: not installed"
  (xrt-smi examine 2>&1 || xbutil examine 2>&1) | head -20 || true; } 2>&1 | fence

# ---- 2. build and devices -------------------------------------------------------------------
section "2. Build and devices"
if [ $phoenix = yes ]; then
  if bash "$here/scripts/phoenix-install.sh" > "$work/install.txt" 2> "$work/install.log"; then
    out "- scripts/phoenix-install.sh: everything built"
  else
    out "- scripts/phoenix-install.sh: NOT everything was built; the devices that lack their files run emulated:"
    sed 's/^/  - /' "$work/install.txt" >> "$report"
    export UNICORN_EMULATE=1
  fi
else
  skip "the gfx11 code object and NPU kernel files are built only on Phoenix hardware (scripts/phoenix-install.sh)"
fi
"$bin/llama-cli" --list-devices 2>&1 | grep -E 'UNICORN|unicorn' | fence

# ---- 3. test-backend-ops --------------------------------------------------------------------
section "3. test-backend-ops against the CPU backend"
tbo() {  # DEVICE ATTN [test-backend-ops args: -o OP, -p PARAMS]
  local dev=$1 attn=$2; shift 2
  local what="UNICORN_ATTN=$attn${*:+, $*}"
  if UNICORN_ATTN=$attn bash "$here/scripts/test-backend-ops.sh" "$dev" "$@" > "$work/tbo-$dev.txt" 2>&1; then
    out "- $dev ($what): PASS: $(tail -1 "$work/tbo-$dev.txt")"
  else
    out "- $dev ($what): FAIL: $(tail -1 "$work/tbo-$dev.txt")"
    grep -E 'FAIL' "$work/tbo-$dev.txt" | head -20 | sed 's/^/    /' >> "$report"
    failed+=("test-backend-ops $dev")
  fi
}
if [ $quick = yes ]; then
  # A few cases each: 8 attention cases (D=64, 4 heads, 512 keys, bf16 KV), RMS_NORM on the iGPU.
  tbo UNICORN_NPU0 npu -o FLASH_ATTN_EXT -p 'hsk=64,hsv=64,nh=4,nr23=\[1,1\],kv=512,nb=1,.*type_K=bf16'
  tbo UNICORN_IGPU0 igpu -o RMS_NORM
else
  tbo UNICORN_NPU0 npu
  tbo UNICORN_IGPU0 igpu
fi

# ---- 4. KL divergence -----------------------------------------------------------------------
section "4. KL divergence against the CPU backend"
[ -n "$model" ] || model=$(bash "$here/scripts/fetch-model.sh" | tail -1)
chunks=8; [ $quick = yes ] && chunks=2
ppl=(-m "$model" -f "$here/tests/data/fixed-text.txt" -c 128 --chunks "$chunks" -t "$(nproc)")
cpu=(-ngl 0 -fa on -ctk bf16 -ctv bf16 -dev none)
if env -u UNICORN_EMULATE "$bin/llama-perplexity" "${ppl[@]}" "${cpu[@]}" --kl-divergence-base "$work/base.bin" > "$work/kl-cpu.txt" 2>&1 &&
   "$bin/llama-perplexity" "${ppl[@]}" --backend unicorn --kl-divergence-base "$work/base.bin" --kl-divergence > "$work/kl.txt" 2>&1; then
  out "$(basename "$model"), tests/data/fixed-text.txt, -c 128, $chunks chunks:"
  grep -E 'Mean +KLD|Maximum KLD|99\.9% +KLD|Same top p|Mean PPL\(Q\)' "$work/kl.txt" | fence
else
  out "- FAIL: llama-perplexity exited non-zero:"; tail -5 "$work/kl.txt" "$work/kl-cpu.txt" 2>/dev/null | fence
  failed+=("KL divergence")
fi

# ---- 5. peers -------------------------------------------------------------------------------
section "5. Peers: llama.cpp's Vulkan and HIP backends from the same source"
peers=()
hipcc=${UNICORN_HIPCC:-$(command -v hipcc || echo /opt/rocm/bin/hipcc)}
if [ $quick = yes ]; then
  skip "--quick builds no peers"
elif [ $phoenix = no ]; then
  skip "no Phoenix GPU: the peers would not run here"
else
  src=$(readlink -f "$here/vendor/llama.cpp") peer=$UNICORN_CACHE/phoenix-peers
  flags=(); targets=()
  if command -v glslc >/dev/null && [ -e /usr/include/vulkan/vulkan.h ]; then flags+=(-DGGML_VULKAN=ON); targets+=(ggml-vulkan)
  else out "- Vulkan: not built: glslc or the Vulkan headers are missing (Debian: glslc, libvulkan-dev)"; fi
  if [ -x "$hipcc" ]; then flags+=(-DGGML_HIP=ON -DAMDGPU_TARGETS=gfx1103 -DCMAKE_HIP_COMPILER="$(dirname "$hipcc")/../llvm/bin/clang++"); targets+=(ggml-hip)
  else out "- HIP: not built: no ROCm hipcc (install ROCm, or set UNICORN_HIPCC)"; fi
  if [ ${#targets[@]} -gt 0 ] &&
     cmake -S "$src" -B "$peer" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON \
       -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "${flags[@]}" -DLLAMA_BUILD_TESTS=OFF \
       -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF > "$work/peer-cmake.txt" 2>&1 &&
     cmake --build "$peer" -j "$(nproc)" --target "${targets[@]}" > "$work/peer-build.txt" 2>&1; then
    for t in "${targets[@]}"; do cp "$peer/bin/lib$t.so" "$bin/"; done
    [[ " ${targets[*]} " == *" ggml-vulkan "* ]] && peers+=(Vulkan0)
    [[ " ${targets[*]} " == *" ggml-hip "* ]] && peers+=(ROCm0)
    out "- built: ${peers[*]} (from $src)"
  elif [ ${#targets[@]} -gt 0 ]; then
    out "- FAILED to build ${targets[*]}:"; tail -15 "$work/peer-build.txt" "$work/peer-cmake.txt" 2>/dev/null | fence
  fi
fi

# ---- 6. llama-bench and energy ----------------------------------------------------------------
section "6. Speed and energy per token (llama-bench)"
# Power during a command: prints "package_W gpu_W source" (a figure is "-" where no sensor is).
# RAPL: energy_uj counters of /sys/class/powercap/*:* named package-*; hwmon: amdgpu's
# power1_average (or power1_input), in microwatts (Documentation/hwmon/sysfs-interface);
# gpu_metrics v2.x (APUs, drivers/gpu/drm/amd/include/kgd_pp_interface.h): u16
# average_socket_power at byte 40 and average_gfx_power at byte 46, taken as milliwatts
# (ASSUMPTION, to check against hwmon on the first run: both are reported when present).
power_run() {
  python3 - "$@" <<'PY'
import glob, os, struct, subprocess, sys, threading, time
def rapl():
    out = []
    for d in glob.glob("/sys/class/powercap/*:*"):
        try:
            if open(d + "/name").read().startswith("package"):
                out.append(d + "/energy_uj")
        except OSError:
            pass
    return out
def read_uj(paths):
    try:
        return sum(int(open(p).read()) for p in paths)
    except (OSError, ValueError):
        return None
def amdgpu_hwmon():
    for h in glob.glob("/sys/class/hwmon/hwmon*"):
        try:
            if open(h + "/name").read().strip() == "amdgpu":
                for f in ("power1_average", "power1_input"):
                    if os.path.exists(f"{h}/{f}"):
                        return f"{h}/{f}"
        except OSError:
            pass
def gpu_metrics():
    for p in glob.glob("/sys/class/drm/card*/device/gpu_metrics"):
        try:
            b = open(p, "rb").read()
            if len(b) >= 48 and b[2] == 2 and b[3] >= 1:
                return p
        except OSError:
            pass
pk, hw, gm = rapl(), amdgpu_hwmon(), gpu_metrics()
samples = {"hwmon": [], "socket": [], "gfx": []}
stop = threading.Event()
def sample():
    while not stop.is_set():
        try:
            if hw:
                samples["hwmon"].append(int(open(hw).read()) / 1e6)
            if gm:
                b = open(gm, "rb").read()
                sock, gfx = struct.unpack_from("<H", b, 40)[0], struct.unpack_from("<H", b, 46)[0]
                if sock != 0xFFFF: samples["socket"].append(sock / 1e3)
                if gfx != 0xFFFF: samples["gfx"].append(gfx / 1e3)
        except (OSError, ValueError, struct.error):
            pass
        time.sleep(0.1)
t = threading.Thread(target=sample); t.start()
e0, t0 = read_uj(pk) if pk else None, time.monotonic()
rc = subprocess.call(sys.argv[1:], stdout=sys.stdout, stderr=subprocess.DEVNULL)
e1, t1 = read_uj(pk) if pk else None, time.monotonic()
stop.set(); t.join()
mean = lambda xs: f"{sum(xs) / len(xs):.2f}" if xs else "-"
package = f"{(e1 - e0) / 1e6 / (t1 - t0):.2f}" if e0 is not None and e1 is not None and e1 >= e0 else "-"
gpu = mean(samples["hwmon"]) if samples["hwmon"] else mean(samples["socket"])
src = ",".join(s for s, ok in [("rapl", pk), ("hwmon", hw), ("gpu_metrics", gm)] if ok) or "none"
print(f"POWER {package} {gpu} {mean(samples['gfx'])} {src}", file=sys.stderr)
sys.exit(rc)
PY
}
if [ $quick = yes ]; then pp=32 tg=8 reps=1; else pp=512 tg=128 reps=3; fi
models=("$model")
if [ $quick = no ]; then
  for preset in e2b e4b; do
    g=$UNICORN_CACHE/model/gemma3n-$preset-q4km.gguf
    if [ -e "$g" ] || python3 "$here/scripts/gen-gemma3n.py" --preset $preset --tokenizer-from "$model" --quantize Q4_K_M -o "$g" > "$work/gen-$preset.txt" 2>&1; then
      models+=("$g")
    else
      out "- Gemma3n $preset: not generated: $(tail -1 "$work/gen-$preset.txt")"
    fi
  done
fi
out "llama-bench -p $pp -n $tg -r $reps. Power: package (RAPL), GPU (amdgpu hwmon, else gpu_metrics socket), GFX (gpu_metrics); J/token = power / (tokens/s), sampled over the whole run (model load included)."
out
out "| model | backend | test | t/s | package W | J/token (package) | GPU W | J/token (GPU) | sensors |"
out "|---|---|---|---|---|---|---|---|---|"
power_seen=no
for m in "${models[@]}"; do
  for be in unicorn "${peers[@]}" cpu; do
    case $be in
      unicorn) args=(--backend unicorn) ;;
      cpu) args=(-ngl 0 -fa 1 -ctk bf16 -ctv bf16 -dev none) ;;
      *) args=(-dev "$be" -ngl 99 -fa 1) ;;
    esac
    for test in "-p $pp -n 0" "-p 0 -n $tg"; do
      # shellcheck disable=SC2086 # $test is two flag pairs
      if power_run "$bin/llama-bench" -m "$m" $test -r "$reps" -t "$(nproc)" -o jsonl "${args[@]}" > "$work/bench.jsonl" 2> "$work/bench.err"; then
        read -r _ pkw gpuw _ src <<< "$(grep '^POWER' "$work/bench.err" | tail -1)"
        ts=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print("%.2f" % r[-1]["avg_ts"])' "$work/bench.jsonl" 2>/dev/null || echo -)
        jt() { python3 -c 'import sys; w,t=sys.argv[1:]; print("-" if "-" in (w,t) else f"{float(w)/float(t):.3f}")' "$1" "$ts"; }
        [ "$src" != none ] && power_seen=yes
        name=$([ "$test" = "-p $pp -n 0" ] && echo "pp$pp" || echo "tg$tg")
        out "| $(basename "$m") | $be | $name | $ts | $pkw | $(jt "$pkw") | $gpuw | $(jt "$gpuw") | $src |"
      else
        out "| $(basename "$m") | $be | $test | FAILED: $(grep -v '^POWER' "$work/bench.err" | tail -1 | tr '|' '/') | | | | | |"
        failed+=("llama-bench $be $(basename "$m")")
      fi
    done
  done
done
out
[ $power_seen = yes ] || out "- energy: not measured: no power sensor here (no RAPL package counter in /sys/class/powercap, no amdgpu hwmon power, no gpu_metrics v2.x)"
[ $phoenix = no ] && out "- the Unicorn rows ran EMULATED on the CPU: they describe the emulation, not the 780M or the NPU"

# ---- 7. NPU calibration ---------------------------------------------------------------------
section "7. NPU calibration (the cost model's measured inputs)"
calibration=$(LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" python3 - "$bin/libggml-unicorn.so" <<'PY' 2>/dev/null
import ctypes, sys
f = ctypes.CDLL(sys.argv[1]).unicorn_npu_calibration
f.restype, f.argtypes = ctypes.c_size_t, [ctypes.c_char_p, ctypes.c_size_t]
buf = ctypes.create_string_buffer(4096); f(buf, len(buf)); print(buf.value.decode())
PY
) || calibration="error=the plugin could not be asked (unicorn_npu_calibration)"
placement_file=${UNICORN_PLACEMENT_FILE:-$UNICORN_CACHE/placement.txt}
if [[ $calibration == npu-calibration* ]]; then
  mkdir -p "$UNICORN_CACHE"
  { grep -v '^npu-calibration ' "$placement_file" 2>/dev/null; echo "$calibration"; } > "$work/placement.txt"
  cp "$work/placement.txt" "$placement_file"
  out "- measured and written to $placement_file (the cost model reads it, docs/placement.md):"
  echo "$calibration" | fence
else
  skip "${calibration#error=}"
fi

# ---- 8. placement -------------------------------------------------------------------------
section "8. Attention placement (UNICORN_ATTN=auto)"
UNICORN_ATTN=auto "$bin/llama-completion" --backend unicorn -m "$model" -p "Hello" -n 4 -no-cnv -c 512 -lv 4 \
  --no-log-prefix --no-log-timestamps > "$work/auto.txt" 2>&1 || failed+=("llama-completion UNICORN_ATTN=auto")
{ grep -E 'unicorn: placement' "$work/auto.txt" || echo "(no verdict logged: $(tail -1 "$work/auto.txt"))"; } | fence
if [ -s "$placement_file" ]; then out "$placement_file:"; fence < "$placement_file"
else out "- $placement_file: not written (no measurement: the devices are emulated, the cost model decided)"; fi
if [ $quick = no ]; then
  out "Cost model predictions for comparison (scripts/npu-cost-model.py --ctx 4096):"
  python3 "$here/scripts/npu-cost-model.py" --ctx 4096 2>&1 | grep -E 'per token|micro-batch|break-even' | fence
fi

# ---- verdict -------------------------------------------------------------------------------
section "Verdict"
if [ ${#failed[@]} -eq 0 ]; then out "- every check that ran passed$([ $phoenix = no ] && echo ' (EMULATED: no Phoenix hardware)')"
else out "- FAILED: ${failed[*]}"; fi
say "report: $report"
[ ${#failed[@]} -eq 0 ]
