"""A few training steps of every training lesson, shared by the backend and the lesson-truth tests."""

# lesson -> (setting, overrides that keep it to a few steps: at least two, so that a loss follows an update).
# Dropout settings use p = 0: torch.compile draws its own random masks, so p > 0 cannot agree step for step.
FEW_STEPS = {
    "2.2": (None, {"iterations": 3}),
    "2.3": (None, {"iterations": 3}),
    "2.4": (None, {"iterations": 3}),
    "2.5": ("batch_gd", {"epochs": 3}),
    "2.6": (None, {"epochs": 1}),
    "2.7": ("batch=10", {"epochs": 2}),
    "2.8": (None, {"epochs": 1}),
    "2.9": ("lr=0.01", {"epochs": 1}),
    "3.1": (None, {"epochs": 2}),
    "3.2": (None, {"epochs": 2}),
    "3.3": ("cross_entropy", {"epochs": 2}),
    "4.1": (None, {"epochs": 2}),
    "4.3": (None, {"epochs": 1, "limit": 300}),
    "4.4": ("relu", {"epochs": 1, "limit": 144}),
    "5.1": ("tanh", {"epochs": 1, "limit": 240}),
    "5.2": ("p=0", {"epochs": 3}),
    "5.3": ("he", {"epochs": 1, "limit": 240}),
    "5.4": ("quartic-m0.9", {"iterations": 10}),
    "5.5": ("batchnorm", {"epochs": 1, "limit": 96}),
    "6.4": ("digits-bn", {"epochs": 1, "limit": 8, "batch_size": 4}),
    "6.5": ("frozen", {"limit": 20, "size": 32, "batch_size": 10}),
}
