"""Differentiable programming: a small neural network learns to aim a simulated trebuchet.

The trebuchet is an ODE. A counterweight on the short end of a pivoting arm swings the long end up; a sling hanging
from the long end whips the projectile over the top and lets it go when the sling reaches the release angle (an
event of the first solve). The projectile then flies with quadratic air drag in a horizontal wind until it hits the
ground (the terminal event of a second solve). ``shoot(release angle, counterweight, wind)`` is the distance.

The network maps (target distance, wind) to (release angle, counterweight). It is trained through the simulator in
mixed mode: forward mode through the simulator, which has two inputs (``jacfwd`` of the distance with respect to
the angle and the counterweight, a 1 x 2 Jacobian), chained into reverse mode through the network, which has many
(one ``vjp`` of the network per target, its cotangent that Jacobian). Those rows are the Jacobian of the misses
with respect to the weights, so the training is Levenberg-Marquardt: a few dozen passes over the targets.

Once trained, aiming is one network evaluation; the script compares its time with aiming each shot by Newton's
method on the simulator itself, and prints the mean miss on held-out targets last.

    python examples/trebuchet.py [--out DIR] [--quick]
"""
import argparse
import time

import numpy

import chainrule as cr
import chainrule.numpy as np
from chainrule.integrate import odeint

from _reporting import new_figure, output_argument, progress, save_figure

# ------------------------------------------------------------------------------------------- the machine
# SI units. The arm pivots at height PIVOT_HEIGHT; its long end (length LONG_ARM) carries the sling, its short end
# (SHORT_ARM) the counterweight. The arm is a uniform beam.
GRAVITY = 9.81
LONG_ARM, SHORT_ARM, SLING, PIVOT_HEIGHT = 6.0, 1.5, 5.0, 6.0
ARM_MASS, PROJECTILE_MASS = 100.0, 15.0
ARM_INERTIA = ARM_MASS * (LONG_ARM ** 3 + SHORT_ARM ** 3) / (3 * (LONG_ARM + SHORT_ARM))  # about the pivot
DRAG = 0.5 * 1.2 * 0.47 * numpy.pi * 0.1 ** 2   # 1/2 rho C_d A: a 20 cm ball in air
# At rest the long arm points back and down, 35 degrees below the horizontal; the sling lies forward, 10 degrees
# below the horizontal. Angles are measured from the forward horizontal, counterclockwise; the arm turns clockwise.
ARM_START, SLING_START = numpy.deg2rad(215.0), numpy.deg2rad(-10.0)
LAUNCH_TIME, FLIGHT_TIME = 3.0, 30.0          # upper bounds: the events end both solves earlier

# What the network may choose, and what it is asked.
RELEASE_RANGE = numpy.deg2rad([20.0, 70.0])   # the sling's elevation, pointing back, when the projectile leaves
COUNTERWEIGHT_RANGE = (800.0, 3000.0)          # kg
TARGET_RANGE = (130.0, 250.0)                  # m
WIND_RANGE = (-8.0, 8.0)                       # m/s, positive blows toward the target
TOLERANCES = dict(rtol=1e-6, atol=1e-8)


def arm_and_sling(state, t, release, counterweight, wind):
    """The arm angle theta and the sling's angle phi (absolute), a two-link pendulum from Lagrange's equations
    with the 2 x 2 mass matrix solved in closed form."""
    theta, phi, theta_rate, phi_rate = state[0], state[1], state[2], state[3]
    arm = ARM_INERTIA + counterweight * SHORT_ARM ** 2 + PROJECTILE_MASS * LONG_ARM ** 2
    sling = PROJECTILE_MASS * SLING ** 2
    coupling = PROJECTILE_MASS * LONG_ARM * SLING
    cosine, sine = np.cos(theta - phi), np.sin(theta - phi)
    # Gravity's torques: the beam's own weight, the counterweight, the projectile at the tip and on the sling.
    arm_torque = GRAVITY * np.cos(theta) * (ARM_MASS * (LONG_ARM - SHORT_ARM) / 2 - counterweight * SHORT_ARM
                                            + PROJECTILE_MASS * LONG_ARM)
    sling_torque = GRAVITY * PROJECTILE_MASS * SLING * np.cos(phi)
    arm_force = -coupling * sine * phi_rate ** 2 - arm_torque
    sling_force = coupling * sine * theta_rate ** 2 - sling_torque
    determinant = arm * sling - (coupling * cosine) ** 2
    theta_acceleration = (sling * arm_force - coupling * cosine * sling_force) / determinant
    phi_acceleration = (arm * sling_force - coupling * cosine * arm_force) / determinant
    return np.stack([theta_rate, phi_rate, theta_acceleration, phi_acceleration])


def sling_at_release(state, t, release, counterweight, wind):
    # The sling turns clockwise through pointing back (phi = -pi); it lets go at elevation `release` above that.
    return state[1] + numpy.pi + release


sling_at_release.terminal = True
sling_at_release.direction = -1


def flight(state, t, wind):
    """Position and velocity of the projectile under gravity and quadratic drag against the air's velocity."""
    x_rate, y_rate = state[2], state[3]
    air_x = x_rate - wind
    speed = np.sqrt(air_x ** 2 + y_rate ** 2)
    drag = DRAG / PROJECTILE_MASS * speed
    return np.stack([x_rate, y_rate, -drag * air_x, -GRAVITY - drag * y_rate])


def hits_ground(state, t, wind):
    return state[1]


hits_ground.terminal = True
hits_ground.direction = -1


def projectile_state(state):
    """[x, y, x', y'] of the projectile from [theta, phi, theta', phi'] (the pivot at x = 0)."""
    theta, phi, theta_rate, phi_rate = state[0], state[1], state[2], state[3]
    x = LONG_ARM * np.cos(theta) + SLING * np.cos(phi)
    y = PIVOT_HEIGHT + LONG_ARM * np.sin(theta) + SLING * np.sin(phi)
    x_rate = -LONG_ARM * np.sin(theta) * theta_rate - SLING * np.sin(phi) * phi_rate
    y_rate = LONG_ARM * np.cos(theta) * theta_rate + SLING * np.cos(phi) * phi_rate
    return np.stack([x, y, x_rate, y_rate])


def launch(release, counterweight, wind, times=None):
    """The arm-and-sling states from rest until the release (rows past it hold the state at release)."""
    start = np.stack([ARM_START + 0.0 * release, SLING_START + 0.0 * release, 0.0 * counterweight,
                      0.0 * counterweight])
    times = numpy.array([0.0, LAUNCH_TIME]) if times is None else times
    states, _ = odeint(arm_and_sling, start, times, release, counterweight, wind, events=sling_at_release,
                       **TOLERANCES)
    return states


def fly(release_state, wind, times=None):
    times = numpy.array([0.0, FLIGHT_TIME]) if times is None else times
    states, _ = odeint(flight, release_state, times, wind, events=hits_ground, **TOLERANCES)
    return states


def shoot(release, counterweight, wind):
    """Where the projectile lands (m from the pivot) for a release angle (radians) and a counterweight (kg)."""
    return fly(projectile_state(launch(release, counterweight, wind)[-1]), wind)[-1, 0]


def shot_and_sensitivity(release, counterweight, wind):
    """(distance, d distance / d(release, counterweight)): forward mode, one pass with two tangents."""
    def shot(release, counterweight):
        distance = shoot(release, counterweight, wind)
        return distance, distance
    (by_release, by_counterweight), distance = cr.jacfwd(shot, argnums=(0, 1), has_aux=True)(release, counterweight)
    return float(distance), numpy.array([float(by_release), float(by_counterweight)])


# ------------------------------------------------------------------------------------------- the network

HIDDEN = 6
LAYOUT = [("W1", (2, HIDDEN)), ("b1", (HIDDEN,)), ("W2", (HIDDEN, 2)), ("b2", (2,))]


def initial_weights(rng):
    pieces = {"W1": rng.standard_normal((2, HIDDEN)), "b1": 0.5 * rng.standard_normal(HIDDEN),
              "W2": 0.1 * rng.standard_normal((HIDDEN, 2)), "b2": numpy.zeros(2)}
    return numpy.concatenate([pieces[name].ravel() for name, _ in LAYOUT])


def unpack(weights):
    pieces, start = {}, 0
    for name, shape in LAYOUT:
        size = int(numpy.prod(shape))
        pieces[name] = np.reshape(weights[start:start + size], shape)
        start += size
    return pieces


def scaled_inputs(targets, winds):
    """Inputs in [-1, 1]: the network sees the target distance and the wind on comparable scales."""
    low, high = TARGET_RANGE
    return numpy.stack([(2 * numpy.asarray(targets) - low - high) / (high - low),
                        numpy.asarray(winds) / max(abs(w) for w in WIND_RANGE)], axis=-1)


def aim(weights, inputs):
    """(release angles, counterweights) for rows of scaled inputs; squashed into what the machine allows."""
    layers = unpack(weights)
    hidden = np.tanh(inputs @ layers["W1"] + layers["b1"])
    squashed = 1.0 / (1.0 + np.exp(-(hidden @ layers["W2"] + layers["b2"])))
    release = RELEASE_RANGE[0] + (RELEASE_RANGE[1] - RELEASE_RANGE[0]) * squashed[:, 0]
    counterweight = COUNTERWEIGHT_RANGE[0] + (COUNTERWEIGHT_RANGE[1] - COUNTERWEIGHT_RANGE[0]) * squashed[:, 1]
    return release, counterweight


def relative_misses(weights, targets, winds):
    releases, counterweights = aim(weights, scaled_inputs(targets, winds))
    distances = numpy.array([float(shoot(r, m, w)) for r, m, w in zip(releases, counterweights, winds)])
    return (distances - targets) / targets


# ------------------------------------------------------------------------------------------- training

def misses_and_jacobian(weights, targets, winds):
    """The relative misses and their Jacobian with respect to the weights, in mixed mode: the simulator's 1 x 2
    Jacobian (forward mode) is the cotangent of the network's vjp (reverse mode), one target at a time."""
    inputs = scaled_inputs(targets, winds)
    releases, counterweights = aim(weights, inputs)
    misses, rows = [], []
    for index in range(len(targets)):
        distance, sensitivity = shot_and_sensitivity(releases[index], counterweights[index], winds[index])
        misses.append((distance - targets[index]) / targets[index])
        _, pullback = cr.vjp(lambda w: np.stack(aim(w, inputs[index:index + 1]))[:, 0], weights)
        rows.append(pullback(sensitivity / targets[index])[0])
    return numpy.array(misses), numpy.array(rows)


def train(weights, targets, winds, passes, decay=1e-4):
    """Levenberg-Marquardt on the squared relative misses plus ``decay`` |weights|^2 (which keeps the network
    smooth between the training targets); returns the weights and the mean |miss| after each pass."""
    def objective(misses, weights):
        return misses @ misses + decay * weights @ weights

    damping = 1e-3
    misses, jacobian = misses_and_jacobian(weights, targets, winds)
    curve = [float(numpy.mean(numpy.abs(misses)))]
    identity = numpy.eye(len(weights))
    for _ in progress(range(passes), passes, f"training ({passes} passes)", every=passes):
        gradient = jacobian.T @ misses + decay * weights
        curvature = jacobian.T @ jacobian + decay * identity
        while True:
            # Plain (not Marquardt-scaled) damping bounds the step in weight space, away from saturated units.
            step = numpy.linalg.solve(curvature + damping * identity, -gradient)
            trial_misses = relative_misses(weights + step, targets, winds)
            if objective(trial_misses, weights + step) < objective(misses, weights):
                damping = max(damping / 2, 1e-8)
                break
            damping *= 4
            if damping > 1e4:  # no step reduces the misses: a minimum
                return weights, curve
        weights = weights + step
        misses, jacobian = misses_and_jacobian(weights, targets, winds)
        curve.append(float(numpy.mean(numpy.abs(misses))))
        print(f"  mean miss on the training targets {100 * curve[-1]:.3f}%", flush=True)
    return weights, curve


# ------------------------------------------------------------------------------------------- aiming without it

def aim_by_newton(target, wind, tolerance=1e-4, iterations=20):
    """Release angle and counterweight for one target by Newton's method on the simulator (the minimum-norm
    step, in scaled variables, that zeroes the linearized miss), starting from the middle of the ranges."""
    scale = numpy.array([RELEASE_RANGE[1] - RELEASE_RANGE[0], COUNTERWEIGHT_RANGE[1] - COUNTERWEIGHT_RANGE[0]])
    low = numpy.array([RELEASE_RANGE[0], COUNTERWEIGHT_RANGE[0]])
    choice = low + 0.5 * scale
    for iteration in range(iterations):
        distance, sensitivity = shot_and_sensitivity(choice[0], choice[1], wind)
        miss = distance - target
        if abs(miss) <= tolerance * target:
            break
        scaled = sensitivity * scale
        choice = numpy.clip(choice - scale * scaled * miss / (scaled @ scaled), low, low + scale)
    return choice, iteration


# ------------------------------------------------------------------------------------------- pictures

def plot_training(curve, held_out_miss, out):
    figure = new_figure()
    axes = figure.add_subplot()
    axes.semilogy(range(len(curve)), 100 * numpy.array(curve), marker="o", label="training targets")
    axes.axhline(100 * held_out_miss, color="tab:green", linestyle="--", label="held-out targets, trained")
    axes.legend()
    axes.set_xlabel("Levenberg-Marquardt pass")
    axes.set_ylabel("mean miss (%)")
    axes.set_title("Training the aiming network through the simulator")
    axes.grid(True, which="both", alpha=0.3)
    return save_figure(figure, out, "trebuchet_training")


def draw_machine_at_rest(axes):
    tip = (LONG_ARM * numpy.cos(ARM_START), PIVOT_HEIGHT + LONG_ARM * numpy.sin(ARM_START))
    counterweight = (-SHORT_ARM * numpy.cos(ARM_START), PIVOT_HEIGHT - SHORT_ARM * numpy.sin(ARM_START))
    axes.plot([0.0, 0.0], [0.0, PIVOT_HEIGHT], color="saddlebrown", linewidth=3)
    axes.plot([tip[0], counterweight[0]], [tip[1], counterweight[1]], color="saddlebrown", linewidth=2)
    axes.plot(*counterweight, marker="s", markersize=9, color="dimgray")


def plot_shots(weights, targets, winds, out):
    figure = new_figure(7.0, 4.0)
    axes = figure.add_subplot()
    releases, counterweights = aim(weights, scaled_inputs(targets, winds))
    for target, wind, release, counterweight in zip(targets, winds, releases, counterweights):
        states = launch(release, counterweight, wind, numpy.linspace(0.0, LAUNCH_TIME, 301))
        path = numpy.asarray(cr.vmap(projectile_state)(states))
        last = int(numpy.argmax(numpy.all(states == states[-1], axis=1)))
        flight_path = numpy.asarray(fly(path[last], wind, numpy.linspace(0.0, FLIGHT_TIME, 601)))
        flight_path = flight_path[:int(numpy.argmax(numpy.all(flight_path == flight_path[-1], axis=1))) + 1]
        line, = axes.plot(path[:last + 1, 0], path[:last + 1, 1], alpha=0.5)
        axes.plot(flight_path[:, 0], flight_path[:, 1], color=line.get_color(),
                  label=f"target {target:.0f} m, wind {wind:+.1f} m/s: {numpy.rad2deg(release):.0f} deg, "
                        f"{counterweight:.0f} kg")
        axes.plot([target], [0.0], marker="v", color=line.get_color())
    draw_machine_at_rest(axes)
    axes.set_xlabel("distance from the pivot (m)")
    axes.set_ylabel("height (m)")
    axes.set_title("Held-out shots aimed by the network")
    axes.legend(fontsize=7, loc="upper right")
    return save_figure(figure, out, "trebuchet_shots")


# ------------------------------------------------------------------------------------------- the script

def seconds_per_aim(weights, targets, winds):
    """The network's time for one target at a time (the median over the targets)."""
    times = []
    for inputs in scaled_inputs(targets, winds):
        started = time.perf_counter()
        aim(weights, inputs[None])
        times.append(time.perf_counter() - started)
    return float(numpy.median(times))


def targets_and_winds(rng, count):
    return rng.uniform(*TARGET_RANGE, count), rng.uniform(*WIND_RANGE, count)


def main(out=None, quick=False):
    """Train, aim held-out targets, compare with Newton per shot; returns the mean relative miss held out."""
    rng = numpy.random.default_rng(0)
    train_count, test_count, passes = (12, 6, 4) if quick else (40, 20, 14)
    targets, winds = targets_and_winds(rng, train_count)
    held_out_targets, held_out_winds = targets_and_winds(rng, test_count)
    weights = initial_weights(rng)

    started = time.perf_counter()
    weights, curve = train(weights, targets, winds, passes)
    print(f"trained on {train_count} targets in {time.perf_counter() - started:.1f} s")

    misses = numpy.abs(relative_misses(weights, held_out_targets, held_out_winds))
    network_time = seconds_per_aim(weights, held_out_targets, held_out_winds)

    newton_count = min(test_count, 5)
    started = time.perf_counter()
    newton_iterations = [aim_by_newton(target, wind)[1] for target, wind in
                         zip(held_out_targets[:newton_count], held_out_winds[:newton_count])]
    newton_time = (time.perf_counter() - started) / newton_count
    print(f"aiming one shot: network {1e3 * network_time:.3f} ms; Newton on the simulator {1e3 * newton_time:.0f} ms "
          f"({numpy.mean(newton_iterations):.1f} iterations), {newton_time / network_time:.0f} times longer")

    mean_miss = float(numpy.mean(misses))
    plot_training(curve, mean_miss, out)
    plot_shots(weights, held_out_targets[:4], held_out_winds[:4], out)
    print(f"mean miss on held-out targets: {100 * mean_miss:.2f}%")
    return mean_miss


if __name__ == "__main__":
    parser = output_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quick", action="store_true", help="fewer targets and passes (a smoke test)")
    arguments = parser.parse_args()
    main(arguments.out, arguments.quick)
