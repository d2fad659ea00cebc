# dnnbench: `make test` and `make bench` each do all the set-up on a fresh machine (a .venv with the project).
# `make gpu-check` is for a machine with torch preinstalled and no network: it uses that python as it is.

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PROFILE   ?= quick
MAX_TIME  ?=
DEVICE    ?= cuda
RESULTS   := results
RUN_ID    := $(shell date +%Y%m%d-%H%M%S)
SYSTEM_PY ?= python3
GPU_ARGS  ?=
STUDIES   ?= all
BUDGET    ?=
PEERS     ?=
PEERS_STAMP := $(VENV)/.installed-peers

.PHONY: test bench history gpu-check lint clean fuzz mutation peers-wheels

# make bench needs the project and its dependencies; make test (and lint, fuzz, mutation) the dev tools too.
# torch 2.14.1 and torchvision 0.29.1 are the newest this project allows (pyproject.toml caps torch below 2.15). One
# pip call (one resolver pass); pip byte-compiles on one core (~40 s of a 2-core machine's install), compileall on all.
$(STAMP): pyproject.toml
	test -x $(PY) || $(SYSTEM_PY) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile "torch==2.14.1" "torchvision==0.29.1" -e .
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true
	touch $(STAMP)

# make test installs the peer libraries too (kernels/peers/: their wrappers are tested on the CPU, interpreted)
$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[dev,peers,history]"
	touch $(DEV_STAMP)

# make bench PEERS=1: the peer libraries on the ladders (without them their rows are skips saying how to install them)
$(PEERS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[peers]"
	touch $(PEERS_STAMP)

# The peers' pinned wheels and those of FlagGems' own dependencies, for the GPU machines (no network): Python 3.12 on
# x86-64 Linux, what they run. make gpu-check installs them from here when the folder is there (the device run
# carries it).
PEER_WHEELS := wheels/peers
PEER_PINS   := liger-kernel==0.8.5 flag-gems==5.0.0 pybind11==3.0.1 PyYAML==6.0.3 SQLAlchemy==2.0.44 \
               greenlet==3.2.4 typing_extensions==4.15.0 packaging==25.0
peers-wheels: $(STAMP)
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any -d $(PEER_WHEELS) $(PEER_PINS)
	@ls $(PEER_WHEELS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# one pytest-xdist worker per core (tests/conftest.py gives each worker's torch its share of the cores). The real
# Slurm cluster's tests (tests/test_slurm.py: one cluster per machine, mostly waiting on its jobs) run beside them in a
# pytest of their own (xdist would split them over workers: its loadgroup does not group with pytest 9); their
# output follows the main run's.
test: lint
	$(PY) -m pytest tests/test_slurm.py -q -rs -p no:cacheprovider > $(VENV)/slurm-tests.log 2>&1 & \
	$(PY) -m pytest tests -q -rs -n auto --deselect tests/test_slurm.py; main=$$?; \
	wait $$!; slurm=$$?; echo "== tests/test_slurm.py"; cat $(VENV)/slurm-tests.log; test $$main = 0 -a $$slurm = 0

# The layout fuzz with a long, random budget (make test runs a short, fixed one); failures are replayed first next
# time from .hypothesis/. FUZZ_K narrows it (pytest -k).
FUZZ_K ?=
fuzz: $(DEV_STAMP)
	DNNBENCH_FUZZ=long $(PY) -m pytest tests/test_layout_fuzz.py -q -rs $(if $(FUZZ_K),-k "$(FUZZ_K)")

# Mutation testing of one module (cosmic-ray, in a scratch copy of the tree): each mutant reruns the tests that cover
# the module (tests/mutation.py lists them); prints the score and every surviving mutant. SAMPLE=N scores a seeded
# random sample of N mutants (with its 95% interval) where a module has too many to run them all.
MODULE ?=
SAMPLE ?=
mutation: $(DEV_STAMP)
	@test -n "$(MODULE)" || { echo "usage: make mutation MODULE=reports/compare.py [SAMPLE=120]"; exit 2; }
	$(PY) -m tests.mutation $(MODULE) $(SAMPLE)

# The benchmarks (pytest-benchmark) and the quick trade-off studies, then the report of the run; prints the paths of
# the results and of index.html. MAX_TIME= seconds of timed rounds per benchmark (default: the profile's), BUDGET=10m
# fits the run into a time budget (README: A time budget).
bench: $(STAMP) $(if $(PEERS),$(PEERS_STAMP))
	$(VENV)/bin/dnnbench run --profile $(PROFILE) $(if $(MAX_TIME),--max-time $(MAX_TIME)) \
		$(if $(STUDIES),--studies $(STUDIES)) $(if $(BUDGET),--budget $(BUDGET)) -o $(RESULTS)/bench-$(RUN_ID)

# Every benchmark followed across the runs in results/ (make bench's folders), its changes found (README: History).
history: $(STAMP)
	$(PY) -m pip install -q -e ".[history]"
	$(VENV)/bin/dnnbench history $(RESULTS)/bench-* -o $(RESULTS)/history

gpu-check:
	PYTHONPATH=. $(shell test -x $(PY) && echo $(PY) || echo $(SYSTEM_PY)) -m dnnbench.gpu_check --device $(DEVICE) $(GPU_ARGS)

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .ruff_cache .hypothesis
