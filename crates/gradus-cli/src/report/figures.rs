//! The report's content as data: its sections, one row per figure (a command and what
//! it shows), and the update rule and paper of every optimizer a figure shows.
//!
//! Adding a figure is adding a row to [`FIGURES`]. Its command is written as a user
//! would type it after `gradus`; `{full|quick}` picks a number by `--quick`. Its claims
//! are checked against its runs (see [`super::claims`]), so write the text and the
//! claims together.

use super::claims::{every, run, Claim, Outcome::*};

/// A section of the report.
pub struct Section {
    /// HTML id.
    pub id: &'static str,
    pub title: &'static str,
    /// Which experiment it reproduces (HTML).
    pub source: &'static str,
}

/// A link to a tutorial's experiments in `docs/experiments.md`, named as the experiments
/// list names it (`A. Linear regression on Boston housing`). The path is relative to the
/// default report directory, `gradus-report/` in the repository.
macro_rules! tutorial {
    ($ordinal:literal, $anchor:literal, $title:literal) => {
        concat!(
            "the ",
            $ordinal,
            " tutorial, <a href=\"../docs/experiments.md#",
            $anchor,
            "\"><em>",
            $title,
            "</em></a>"
        )
    };
}

macro_rules! tutorial_a {
    () => {
        tutorial!(
            "first",
            "a-linear-regression-on-boston-housing-first-tutorial",
            "A. Linear regression on Boston housing"
        )
    };
}

macro_rules! tutorial_b {
    () => {
        tutorial!(
            "second",
            "b-optimization-challenges-and-the-optimizer-ladder-second-tutorial",
            "B. Optimization challenges and the optimizer ladder"
        )
    };
}

pub const SECTIONS: &[Section] = &[
    Section {
        id: "sec-boston",
        title: "Linear regression on Boston housing",
        source: concat!(
            "Reproduces ",
            tutorial_a!(),
            ": its runs, printed every 100 steps, and its plots."
        ),
    },
    Section {
        id: "sec-race",
        title: "The classic race over Beale's function and off a saddle point",
        source: concat!(
            "Reproduces the closing comparison of ",
            tutorial_a!(),
            ": animations of SGD, Momentum, NAG, AdaGrad, Adadelta and RMSProp (Adam added) \
             over Beale's function and off a saddle point."
        ),
    },
    Section {
        id: "sec-challenges",
        title: "Optimization challenges",
        source: concat!(
            "Reproduces ",
            tutorial_b!(),
            ": local minima, a vanishing gradient, and Newton's method."
        ),
    },
    Section {
        id: "sec-noise",
        title: "Noisy gradients, minibatches and learning-rate schedules",
        source: concat!(
            "Reproduces ",
            tutorial_b!(),
            ": SGD with noisy gradients under its four schedules, minibatches, and the ladder \
             from momentum to Adam."
        ),
    },
    Section {
        id: "sec-second-order",
        title: "Newton vs L-BFGS vs gradient descent",
        source: concat!(
            "Continues the second-order story that ",
            tutorial_b!(),
            " starts with Newton's method on cosh(0.5·x): the same comparison on 2-D \
             problems, counted in steps and in evaluations of the loss, gradient and Hessian."
        ),
    },
    Section {
        id: "sec-why",
        title: "Why each optimizer exists",
        source: concat!(
            "Reproduces ",
            tutorial!(
                "third",
                "c-why-each-optimizer-exists-third-tutorial",
                "C. Why each optimizer exists"
            ),
            ": the parabola with a good and a bad learning rate, momentum, and the \
             ill-conditioned bowl."
        ),
    },
    Section {
        id: "sec-zoo",
        title: "The optimizer zoo",
        source: concat!(
            "Reproduces ",
            tutorial!(
                "fourth",
                "d-the-optimizer-zoo-fourth-tutorial",
                "D. The optimizer zoo"
            ),
            " (NumPy and PyTorch versions side by side): every optimizer on one problem, with \
             the papers' forms where the tutorial's formulas differ."
        ),
    },
    Section {
        id: "sec-digits",
        title: "A neural network on handwritten digits",
        source: "Beyond the tutorials: a multilayer perceptron written from scratch, trained \
                 with every optimizer.",
    },
    Section {
        id: "sec-muon",
        title: "Muon vs AdamW vs Adafactor on the digits MLP",
        source: "Beyond the tutorials: the optimizers built for weight matrices. The digits \
                 MLP's two weights are matrices (64 × 64 and 64 × 10) and its biases \
                 vectors, so Muon runs as it is meant to, through <code>partition</code>: \
                 Muon for the matrices, AdamW (lr 1e-3) for the biases. Each optimizer \
                 runs at the best learning rate of the sweep below; same steps, \
                 minibatches of 64 and seed for all.",
    },
    Section {
        id: "sec-lr",
        title: "Learning-rate sensitivity",
        source: "Beyond the tutorials: every optimizer gradus has, each over a log-spaced grid \
                 of learning rates, on Rosenbrock, Boston housing and the digits MLP: which lr \
                 to start with, and how forgiving each optimizer is.",
    },
    Section {
        id: "sec-functions",
        title: "The standard 2-D test functions",
        source: "Beyond the tutorials: the test functions every optimizer paper uses, with \
                 their known minima.",
    },
];

/// One figure: a `gradus` command, its images, and what it shows.
pub struct FigureRow {
    /// File stem of its images; its HTML id is `fig-{id}`.
    pub id: &'static str,
    /// The [`Section::id`] it belongs to.
    pub section: &'static str,
    pub title: &'static str,
    /// What to look at (HTML). Every outcome it names is in `claims`.
    pub text: &'static str,
    /// The command after `gradus`, with `{full|quick}` step counts.
    pub command: &'static str,
    /// What each image shows, in the order of the command's plot flags.
    pub alts: &'static [&'static str],
    /// Outcomes the text names, checked against the runs.
    pub claims: &'static [Claim],
}

pub const FIGURES: &[FigureRow] = &[
    FigureRow {
        id: "boston",
        section: "sec-boston",
        title: "Loss of each optimizer, with the tutorial's settings",
        text: "Input LSTAT, target MEDV, both standardized over all 506 rows; an 80/20 split; \
               y = w·x + b from w = b = 0; loss MSE. Each step draws a minibatch with \
               replacement, as the tutorial's epochs do. Momentum and Nesterov with lr 1e-4 \
               are still creeping towards the optimum after 1000 steps; AdaGrad, RMSprop and \
               Adam reach it. The table's <em>steps to tol</em> counts steps until the \
               training loss is within 1e-3 of the least-squares optimum.",
        command: "compare --problem boston --seed 0 --every 10 \
                  --optimizer 'sgd(lr=1e-4, momentum=0.9)' \
                  --optimizer 'sgd(lr=1e-4, momentum=0.9, nesterov=true)' \
                  --optimizer 'adagrad(lr=0.1, eps=1e-10)' \
                  --optimizer 'rmsprop(lr=0.01, alpha=0.9, eps=1e-10)' \
                  --optimizer 'adam(lr=1e-3, betas=(0.9, 0.95), eps=1e-8)' \
                  --batch-size 128 --batch-size 128 --batch-size 128 --batch-size 128 --batch-size 32 \
                  --steps {1000|200} --steps {1000|200} --steps {1000|200} --steps {2000|400} --steps {2000|400} \
                  --tol 1e-3 --plot boston.png --plot-fit boston_fit.png",
        alts: &[
            "Training loss against step for the five optimizers on Boston housing, on a log scale",
            "Standardized test points of MEDV against LSTAT with each optimizer's fitted line and the least-squares line",
        ],
        claims: &[
            run(0, Misses(1e-3)),
            run(1, Misses(1e-3)),
            run(2, Reaches(1e-3)),
            run(3, Reaches(1e-3)),
            run(4, Reaches(1e-3)),
        ],
    },
    FigureRow {
        id: "beale",
        section: "sec-race",
        title: "Racing over Beale's function",
        text: "SGD, momentum, Nesterov, AdaGrad, Adadelta, RMSprop and Adam from (1, 1.5) \
               towards the minimum at (3, 0.5). Momentum (with lr 0.002: at 0.01 it \
               overshoots the steep walls and diverges) swings through the valley and is the \
               first within 1e-3 of the minimum, Nesterov close behind; in 400 steps none of \
               the others gets that close. The adaptive methods rescale each coordinate and \
               turn into the valley; Adadelta needs a large lr (5) to move at all from this \
               start.",
        command: "compare --problem beale --start 1,1.5 --steps {400|100} --every 2 \
                  --optimizer 'sgd(lr=0.01)' --optimizer 'sgd(lr=0.002, momentum=0.9)' \
                  --optimizer 'sgd(lr=0.002, momentum=0.9, nesterov=true)' \
                  --optimizer 'adagrad(lr=0.5)' --optimizer 'adadelta(lr=5.0)' \
                  --optimizer 'rmsprop(lr=0.01)' --optimizer 'adam(lr=0.05)' \
                  --tol 1e-3 --plot beale.png --animate beale.gif",
        alts: &[
            "Contour map of Beale's function with the seven optimizers' paths from (1, 1.5) towards the minimum at (3, 0.5)",
            "Animation of the seven paths over Beale's function, with a step counter and each run's current loss",
        ],
        claims: &[
            run(1, Fastest(1e-3)),
            run(2, Reaches(1e-3)),
            run(0, Misses(1e-3)),
            run(3, Misses(1e-3)),
            run(4, Misses(1e-3)),
            run(5, Misses(1e-3)),
            run(6, Misses(1e-3)),
        ],
    },
    FigureRow {
        id: "saddle",
        section: "sec-race",
        title: "Off a saddle point",
        text: "f(x, y) = x² − y² from (1, 0.001): the gradient in y is tiny near the saddle, so \
               after 60 steps plain SGD and momentum with lr 0.01 are still near it (f about \
               0.09 and −0.1), while the adaptive methods, which rescale the small y-gradient, \
               escape down the y direction (f below −4). There is no minimum: every run that \
               escapes leaves the picture, marked where it leaves.",
        command: "compare --problem saddle --start 1,0.001 --steps {60|40} \
                  --optimizer 'sgd(lr=0.01)' --optimizer 'sgd(lr=0.01, momentum=0.9)' \
                  --optimizer 'sgd(lr=0.01, momentum=0.9, nesterov=true)' \
                  --optimizer 'adagrad(lr=0.5)' --optimizer 'adadelta(lr=1.0)' \
                  --optimizer 'rmsprop(lr=0.01)' --optimizer 'adam(lr=0.05)' \
                  --plot saddle.png --animate saddle.gif",
        alts: &[
            "Contour map of x² − y² centred on the saddle point, with the paths of seven optimizers from (1, 0.001)",
            "Animation of the seven paths leaving the saddle, with a step counter and each run's current value",
        ],
        claims: &[
            run(0, EndsAbove(0.0)),
            run(1, EndsAbove(-1.0)),
            run(3, EndsBelow(-4.0)),
            run(4, EndsBelow(-4.0)),
            run(5, EndsBelow(-4.0)),
            run(6, EndsBelow(-4.0)),
        ],
    },
    FigureRow {
        id: "xcos",
        section: "sec-challenges",
        title: "Local and global minima of x·cos(πx), from two starts",
        text: "Gradient descent (lr 0.05) goes to the nearest minimum: from −0.5 it settles in \
               the local minimum at x ≈ −0.274 (f ≈ −0.179), from 1.5 in the global minimum \
               on [−1, 2] at x ≈ 1.090 (f ≈ −1.047).",
        command: "compare --problem xcos --optimizer 'sgd(lr=0.05)' --start=-0.5 --start 1.5 \
                  --steps 40 --plot xcos.png",
        alts: &["The curve x·cos(πx) on [−1, 2] with gradient descent's iterates from −0.5 and from 1.5, numbered"],
        claims: &[
            run(0, EndsAt { x: -0.274, tol: 0.01 }),
            run(1, EndsAt { x: 1.090, tol: 0.01 }),
        ],
    },
    FigureRow {
        id: "tanh",
        section: "sec-challenges",
        title: "A vanishing gradient: tanh from x = 4",
        text: "f′(4) = 1 − tanh²(4) ≈ 0.0013, so gradient descent (lr 0.5) hardly moves in 100 \
               steps; Adam divides by the gradient's own scale, walks down the slope and past \
               0 to the flat tail near −1.",
        command: "compare --problem tanh --start 4 --steps 100 \
                  --optimizer 'sgd(lr=0.5)' --optimizer 'adam(lr=0.1)' --plot tanh.png",
        alts: &["The curve tanh(x) with gradient descent's iterates bunched at x = 4 and Adam's walking down to about x = −3"],
        claims: &[
            run(0, Stalls(0.1)),
            run(1, EndsBelow(-0.9)),
            run(1, Beats(0)),
        ],
    },
    FigureRow {
        id: "newton",
        section: "sec-challenges",
        title: "Newton's method against gradient descent on cosh(0.5·x)",
        text: "From x = 10, ten iterations. Newton's step x − f′/f″ = x − tanh(0.5·x)/0.5 \
               takes nearly constant steps of 2 while far away and then converges \
               quadratically: within 1e-6 of the minimum in 7 steps. Gradient descent (lr \
               0.2) first jumps, since the gradient 0.5·sinh(5) ≈ 37 is large far out, and \
               then creeps: near 0 the curvature is only 0.25, so each step shrinks x by just \
               1 − 0.2·0.25 = 0.95. (With lr 1 it overshoots to −27 and diverges.)",
        command: "compare --problem cosh --start 10 --steps 10 \
                  --optimizer 'newton(lr=1.0)' --optimizer 'sgd(lr=0.2)' --tol 1e-6 \
                  --plot newton.png",
        alts: &["The curve cosh(0.5·x) with Newton's iterates from 10 reaching 0 and gradient descent's stopping short"],
        claims: &[run(0, Fastest(1e-6)), run(0, Reaches(1e-6)), run(1, Misses(1e-6))],
    },
    FigureRow {
        id: "schedules",
        section: "sec-noise",
        title: "The learning-rate schedules",
        text: "The tutorials' schedules (piecewise constant, η·e^(−0.1·t), η·(1 + 0.1·t)^(−0.5)) \
               and torch's step, cosine and one-cycle schedules, for lr 0.1 over 100 updates.",
        command: "schedules --lr 0.1 --steps 100 \
                  --schedule 'piecewise_constant(boundaries=[30, 60], values=[0.1, 0.05, 0.01])' \
                  --schedule 'exp_decay(lam=0.1)' --schedule 'inverse_poly(beta=0.1, alpha=0.5)' \
                  --schedule 'step(step_size=30, gamma=0.5)' --schedule 'cosine_annealing(t_max=100)' \
                  --schedule 'one_cycle(max_lr=0.1, total_steps=100)' --plot schedules.png",
        alts: &["Learning rate against step for six schedules starting from lr 0.1"],
        claims: &[],
    },
    FigureRow {
        id: "noisy",
        section: "sec-noise",
        title: "SGD with noisy gradients under each schedule",
        text: "The bowl x1² + 2·x2² from (−5, −5), gradient plus N(0, 1) noise, lr 0.1, 100 \
               steps. With a constant lr the iterates keep jittering around the minimum at a \
               distance set by lr × noise; the decaying schedules that keep some lr \
               (piecewise constant, inverse polynomial) shrink the jitter and end lower, piecewise \
               constant lowest, and \
               decaying too fast (e^(−0.1·t)) stops short of the minimum, ending highest.",
        command: "compare --problem bowl --start=-5,-5 --noise 1 --seed 1 --steps 100 \
                  --optimizer 'sgd(lr=0.1)' --schedule none \
                  --schedule 'piecewise_constant(boundaries=[30, 60], values=[0.1, 0.05, 0.01])' \
                  --schedule 'exp_decay(lam=0.1)' --schedule 'inverse_poly(beta=0.1, alpha=0.5)' \
                  --plot noisy.png --plot-loss noisy_loss.png",
        alts: &[
            "Contour map of the bowl with the noisy SGD paths under four schedules",
            "Loss against step of noisy SGD under four schedules, on a log scale",
        ],
        claims: &[run(1, EndsBest), run(3, Beats(0)), run(2, EndsWorst)],
    },
    FigureRow {
        id: "minibatch",
        section: "sec-noise",
        title: "Minibatch size and gradient variance",
        text: "SGD (lr 0.01) on the Boston regression with batches of 1, 8, 32 and 128 rows and \
               the full training set (404 rows). Smaller batches give noisier gradients: the \
               loss wanders more, and batch 1 ends highest; from 32 rows on the curves lie \
               on top of each other (told apart by their line styles).",
        command: "compare --problem boston --optimizer 'sgd(lr=0.01)' --steps {500|200} --every 5 \
                  --batch-size 1 --batch-size 8 --batch-size 32 --batch-size 128 --batch-size 404 \
                  --plot minibatch.png",
        alts: &["Training loss against step of SGD with five batch sizes on Boston housing"],
        claims: &[run(0, EndsWorst), run(4, Beats(0)), run(3, Beats(0))],
    },
    FigureRow {
        id: "ladder",
        section: "sec-noise",
        title: "The optimizer ladder on the bowl",
        text: "Momentum as a leaky average (β·v + (1 − β)·g, i.e. dampening = momentum), \
               AdaGrad, RMSprop (γ 0.9) and Adam (β1 0.9, β2 0.999) on x1² + 2·x2² from \
               (−5, −5), next to plain gradient descent; no noise. Momentum is the first \
               within 1e-4 of the minimum; gradient descent, AdaGrad and RMSprop arrive \
               together a few steps later, and their paths nearly coincide (told apart by \
               their markers). Adam with lr 0.5 is the one that does not get within 1e-4 in \
               50 steps.",
        command: "compare --problem bowl --start=-5,-5 --steps 50 \
                  --optimizer 'sgd(lr=0.1)' --optimizer 'sgd(lr=0.1, momentum=0.5, dampening=0.5)' \
                  --optimizer 'adagrad(lr=1.5)' --optimizer 'rmsprop(lr=0.3, alpha=0.9)' \
                  --optimizer 'adam(lr=0.5)' --tol 1e-4 --plot ladder.png",
        alts: &["Contour map of the bowl x1² + 2·x2² with the paths of gradient descent, momentum, AdaGrad, RMSprop and Adam from (−5, −5)"],
        claims: &[
            run(1, Fastest(1e-4)),
            run(0, Reaches(1e-4)),
            run(2, Reaches(1e-4)),
            run(3, Reaches(1e-4)),
            run(4, Misses(1e-4)),
        ],
    },
    FigureRow {
        id: "parabola",
        section: "sec-why",
        title: "Gradient descent on p², and the learning rate that breaks it",
        text: "From p = 10: lr 0.1 gives 8, 6.4, 5.12, 4.10, …; lr 1.05 overshoots further \
               each step (−11, 12.1, −13.31, …) and diverges, leaving the picture; Adam with \
               the same lr 1.05 takes steps of about lr and settles; momentum 0.5 (velocity = \
               0.5·velocity + g) speeds up the lr-0.1 descent.",
        command: "compare --problem parabola --start 10 --steps 10 \
                  --optimizer 'sgd(lr=0.1)' --optimizer 'sgd(lr=1.05)' --optimizer 'adam(lr=1.05)' \
                  --optimizer 'sgd(lr=0.1, momentum=0.5)' --plot parabola.png",
        alts: &["The parabola p² with the iterates of four runs from p = 10; the run with lr 1.05 leaves the frame"],
        claims: &[
            run(1, Diverges),
            run(2, Beats(0)),
            run(3, Beats(0)),
        ],
    },
    FigureRow {
        id: "illconditioned",
        section: "sec-why",
        title: "An ill-conditioned bowl: one learning rate does not fit both coordinates",
        text: "f(p) = 50·p0² + p1² from (1.5, 10). Gradient descent is stable only for \
               lr < 0.02 (set by p0's curvature 100), where p1 (curvature 2) crawls: neither \
               lr 0.019 (p0 oscillates) nor lr 0.005 gets within 1e-2 of the minimum in 100 \
               steps. AdaGrad (lr 1.5) scales each coordinate by its own gradient history and \
               does.",
        command: "compare --problem quadratic --start 1.5,10 --steps 100 \
                  --optimizer 'sgd(lr=0.019)' --optimizer 'sgd(lr=0.005)' \
                  --optimizer 'adagrad(lr=1.5)' --tol 1e-2 --plot illconditioned.png",
        alts: &["Contour map of the ill-conditioned bowl with two gradient descent paths and AdaGrad's"],
        claims: &[
            run(0, Misses(1e-2)),
            run(1, Misses(1e-2)),
            run(2, Reaches(1e-2)),
        ],
    },
    FigureRow {
        id: "zoo",
        section: "sec-zoo",
        title: "Every optimizer on the Rosenbrock function",
        text: "From (−1.5, 2) towards (1, 1) along the curved valley, 3000 steps. Momentum and \
               Nesterov follow the valley floor and reach the minimum (Nesterov first); so do \
               Adam and Adamax. AdaGrad slows as its accumulator grows, and RMSprop, Adadelta, \
               AdamW (its weight decay pulls it off (1, 1)), NAdam and Lion end near the \
               minimum but not within 1e-4 of it; Lion moves by ±lr per coordinate, so it \
               cannot settle closer than about lr. RAdam ends worst: it takes plain momentum \
               steps for its first five updates (its variance estimate is not yet \
               trustworthy), and with lr 0.05 those steps throw it off the map, so it runs \
               here with lr 0.003, too small to get far along the valley.",
        command: "compare --problem rosenbrock --start=-1.5,2 --steps {3000|500} --every 10 \
                  --optimizer 'sgd(lr=0.001, momentum=0.9)' \
                  --optimizer 'sgd(lr=0.001, momentum=0.9, nesterov=true)' \
                  --optimizer 'adagrad(lr=0.5)' --optimizer 'rmsprop(lr=0.005)' \
                  --optimizer 'adadelta(lr=1.0)' --optimizer 'adam(lr=0.05)' \
                  --optimizer 'adamw(lr=0.05)' --optimizer 'nadam(lr=0.05)' \
                  --optimizer 'radam(lr=0.003)' --optimizer 'adamax(lr=0.1)' \
                  --optimizer 'lion(lr=0.005)' --tol 1e-4 --plot zoo.png --plot-loss zoo_loss.png",
        alts: &[
            "Eleven small contour maps of the Rosenbrock function, one per optimizer, each with its path from (−1.5, 2) in colour and the other ten faint",
            "Loss against step of eleven optimizers on the Rosenbrock function, on a log scale; runs that go below the frame are marked at its bottom edge",
        ],
        claims: &[
            run(0, Reaches(1e-4)),
            run(1, Reaches(1e-4)),
            run(1, Fastest(1e-4)),
            run(5, Reaches(1e-4)),
            run(9, Reaches(1e-4)),
            run(2, Misses(1e-4)),
            run(3, Misses(1e-4)),
            run(4, Misses(1e-4)),
            run(6, Misses(1e-4)),
            run(7, Misses(1e-4)),
            run(10, Misses(1e-4)),
            run(8, EndsWorst),
        ],
    },
    FigureRow {
        id: "digits",
        section: "sec-digits",
        title: "A multilayer perceptron on the digits data",
        text: "64 → 64 → 10 with ReLU and softmax cross-entropy, written from scratch, on the \
               1797 8×8 digits (80/20 split), minibatches of 64. The legend gives each \
               optimizer's test accuracy.",
        command: "compare --problem digits --batch-size 64 --steps {3000|300} --every 50 \
                  --optimizer 'sgd(lr=0.05, momentum=0.9)' --optimizer 'adagrad(lr=0.05)' \
                  --optimizer 'rmsprop(lr=0.001)' --optimizer 'adam(lr=0.001)' \
                  --optimizer 'adamw(lr=0.001)' --optimizer 'nadam(lr=0.002)' \
                  --optimizer 'radam(lr=0.001)' --plot digits.png",
        alts: &["Training loss against step of seven optimizers training a multilayer perceptron on the digits, with test accuracies in the legend"],
        claims: &[],
    },
    FigureRow {
        id: "himmelblau",
        section: "sec-functions",
        title: "Himmelblau's function: four minima",
        text: "From (0, 0) every optimizer reaches a minimum (all four have f = 0) within 200 \
               steps; plain SGD gets there first.",
        command: "compare --problem himmelblau --start=0,0 --steps 200 \
                  --optimizer 'sgd(lr=0.01)' --optimizer 'sgd(lr=0.01, momentum=0.9)' \
                  --optimizer 'rmsprop(lr=0.05)' --optimizer 'adam(lr=0.1)' --tol 1e-4 \
                  --plot himmelblau.png",
        alts: &["Contour map of Himmelblau's function with its four minima and four optimizers' paths from (0, 0)"],
        claims: &[every(Reaches(1e-4)), run(0, Fastest(1e-4))],
    },
    FigureRow {
        id: "booth",
        section: "sec-functions",
        title: "Booth's function",
        text: "A quadratic bowl with minimum (1, 3), mildly ill-conditioned. Only momentum gets \
               within 1e-4 of the minimum in 200 steps; plain SGD at lr 0.01 and the adaptive \
               methods are still creeping along the bowl's long axis.",
        command: "compare --problem booth --start=-5,5 --steps 200 \
                  --optimizer 'sgd(lr=0.01)' --optimizer 'sgd(lr=0.01, momentum=0.9)' \
                  --optimizer 'rmsprop(lr=0.05)' --optimizer 'adam(lr=0.1)' --tol 1e-4 \
                  --plot booth.png",
        alts: &["Contour map of Booth's function with four optimizers' paths from (−5, 5) towards the minimum at (1, 3)"],
        claims: &[
            run(1, Reaches(1e-4)),
            run(0, Misses(1e-4)),
            run(2, Misses(1e-4)),
            run(3, Misses(1e-4)),
        ],
    },
    FigureRow {
        id: "rastrigin",
        section: "sec-functions",
        title: "Rastrigin's function: many local minima",
        text: "From (2.5, 2.5), between the local minima, none of the four reaches the global \
               minimum at the origin: they end in (or on the way to) local minima on their \
               paths, at losses from about 8 to 22. Momentum carries SGD farthest, to the \
               highest of them.",
        command: "compare --problem rastrigin --start=2.5,2.5 --steps 200 \
                  --optimizer 'sgd(lr=0.01)' --optimizer 'sgd(lr=0.01, momentum=0.9)' \
                  --optimizer 'rmsprop(lr=0.05)' --optimizer 'adam(lr=0.1)' --tol 1e-4 \
                  --plot rastrigin.png",
        alts: &["Contour map of Rastrigin's function with its grid of local minima and four optimizers' paths from (2.5, 2.5)"],
        claims: &[every(Misses(1e-4)), every(EndsAbove(5.0)), run(1, EndsWorst)],
    },
    FigureRow {
        id: "second_quadratic",
        section: "sec-second-order",
        title: "The ill-conditioned bowl 50·x0² + x1²: one Newton step",
        text: "On a quadratic, Newton's step θ − H⁻¹·∇f lands on the minimum at once. \
               L-BFGS builds its inverse-Hessian estimate from gradient differences and, with \
               torch's default of up to 20 iterations per step, gets there within one step \
               too. Gradient descent (lr 0.019, just under the 2/100 that the steep x0 \
               direction allows) crawls along the flat x1 direction and is still far off \
               after 30 steps. The second image: the same runs against evaluations of the loss, \
               gradient and Hessian, the cost a step hides.",
        command: "compare --problem quadratic --steps 30 \
                  --optimizer newton --optimizer lbfgs \
                  --optimizer 'lbfgs(line_search_fn=strong_wolfe)' --optimizer 'sgd(lr=0.019)' \
                  --tol 1e-8 --plot-loss second_quadratic.png \
                  --plot-evals second_quadratic_evals.png",
        alts: &[
            "Loss against step on a log scale for Newton, L-BFGS with and without line search, and gradient descent on the ill-conditioned bowl",
            "The same four runs' loss against the number of loss, gradient and Hessian evaluations",
        ],
        claims: &[
            run(0, Reaches(1e-8)),
            run(1, Reaches(1e-8)),
            run(2, Reaches(1e-8)),
            run(3, Misses(1e-8)),
            run(0, FewestEvaluations(1e-8)),
        ],
    },
    FigureRow {
        id: "second_rosenbrock",
        section: "sec-second-order",
        title: "Rosenbrock's valley: steps against evaluations",
        text: "From (−1.5, 2). Pure Newton (step size 1) overshoots on the way, since far \
               from the minimum the quadratic model is poor, then converges quadratically. \
               L-BFGS with the strong-Wolfe line search is the first within 1e-8 counted in \
               steps, but each of its steps runs many iterations: counted in evaluations, \
               Newton (one gradient and one Hessian per step) gets there with the fewest. \
               Gradient descent at lr 0.001, about the largest that does not diverge here, \
               is nowhere near after 30 steps.",
        command: "compare --problem rosenbrock --steps 30 \
                  --optimizer newton --optimizer lbfgs \
                  --optimizer 'lbfgs(line_search_fn=strong_wolfe)' --optimizer 'sgd(lr=0.001)' \
                  --tol 1e-8 --plot-loss second_rosenbrock.png \
                  --plot-evals second_rosenbrock_evals.png",
        alts: &[
            "Loss against step on a log scale for Newton, L-BFGS with and without line search, and gradient descent on the Rosenbrock function",
            "The same four runs' loss against the number of loss, gradient and Hessian evaluations: Newton needs the fewest",
        ],
        claims: &[
            run(2, Fastest(1e-8)),
            run(0, FewestEvaluations(1e-8)),
            run(1, Reaches(1e-8)),
            run(3, Misses(1e-8)),
        ],
    },
    FigureRow {
        id: "second_beale",
        section: "sec-second-order",
        title: "Beale's function: Newton finds a saddle point",
        text: "From (1, 1.5), where the Hessian is not positive definite, Newton's step goes \
               to where the gradient vanishes, not downhill: it settles on the saddle point \
               at (0, 1), where f = 14.203. L-BFGS keeps its curvature estimate positive \
               definite, so its steps always descend, and it reaches the minimum at (3, 0.5). \
               Gradient descent (lr 0.01) descends too, slowly.",
        command: "compare --problem beale --start 1,1.5 --steps 40 \
                  --optimizer newton --optimizer lbfgs \
                  --optimizer 'lbfgs(line_search_fn=strong_wolfe)' --optimizer 'sgd(lr=0.01)' \
                  --tol 1e-8 --plot-loss second_beale.png --plot-evals second_beale_evals.png",
        alts: &[
            "Loss against step on a log scale on Beale's function: Newton stays at about 14, L-BFGS drops to the minimum",
            "The same runs' loss against the number of loss, gradient and Hessian evaluations",
        ],
        claims: &[
            run(0, EndsAt { x: 0.0, tol: 1e-6 }),
            run(0, EndsAbove(14.0)),
            run(1, Reaches(1e-8)),
            run(2, Reaches(1e-8)),
            run(3, Misses(1e-8)),
        ],
    },
    FigureRow {
        id: "muon_sweep",
        section: "sec-muon",
        title: "Choosing each optimizer's learning rate",
        text: "Each optimizer from torch's defaults with only the lr changed (for the \
               partition, Muon's; the biases' AdamW keeps lr 1e-3), seven learning rates \
               from 1e-3 to 1, 500 steps on minibatches of 64 with seed 0. Each curve is \
               the test accuracy at the end; the table's best lr is the one the next \
               figure uses (checked there). How fast a curve falls away on either side of \
               its best is how forgiving that optimizer is of a wrong lr: Adafactor's step \
               is relative to the size of the weights and clipped, AdamW's is not.",
        command: "sweep --problem digits --batch-size 64 --seed 0 \
                  --optimizer 'partition(matrices=muon, rest=adamw(lr=1e-3))' \
                  --optimizer adamw --optimizer adafactor \
                  --lr 1e-3..1 --points {7|4} --steps {500|200} --every {50|20} --tol 0.1 \
                  --plot muon_sweep.png",
        alts: &["Test accuracy of the digits MLP against learning rate, on a log scale, for Muon (through partition), AdamW and Adafactor"],
        claims: &[],
    },
    FigureRow {
        id: "muon",
        section: "sec-muon",
        title: "Training loss and test accuracy at each one's best learning rate",
        text: "The three at the sweep's best learning rates, training loss (the first image: the \
               whole training set, every 25 steps) and test accuracy (the second: 360 digits, \
               so one digit is 0.28%). Muon orthogonalizes the momentum of each weight \
               matrix, so every direction of the matrix moves at the same rate however \
               small its share of the gradient; here it ends with the lowest training \
               loss. AdamW scales each weight by its own second moment; Adafactor keeps \
               that second moment only as row and column averages of each matrix, so it \
               keeps the least optimizer state. All three end above 95% test accuracy. \
               The checks below give the numbers, the state in bytes per parameter (f64).",
        command: "compare --problem digits --batch-size 64 --seed 0 --steps {500|200} --every {25|10} \
                  --optimizer 'partition(matrices=muon(lr={0.0316|0.1}), rest=adamw(lr=1e-3))' \
                  --optimizer 'adamw(lr=0.01)' --optimizer 'adafactor(lr={0.0316|1.0})' \
                  --plot-loss muon_loss.png --plot-accuracy muon_accuracy.png",
        alts: &[
            "Training loss of the digits MLP against step, on a log scale, for Muon through partition, AdamW and Adafactor",
            "Test accuracy of the digits MLP against step for Muon through partition, AdamW and Adafactor",
        ],
        claims: &[run(0, EndsBest), every(AccuracyAbove(0.95)), run(2, LeastState)],
    },
    FigureRow {
        id: "lr_rosenbrock",
        section: "sec-lr",
        title: "Rosenbrock's function",
        text: "Every optimizer from its defaults with only the lr changed, 1000 steps from \
               (−1.5, 2), nine learning rates from 1e-4 to 1. Each curve is one \
               optimizer's final loss gap against its lr; a cross at the top marks an lr at \
               which the run diverged. The table gives each optimizer's best lr, the step at \
               which that run first came within 1e-4 of the minimum, and its final loss.",
        command: "sweep --problem rosenbrock --all --lr 1e-4..1 --points {9|5} \
                  --steps {1000|200} --tol 1e-4 --plot lr_rosenbrock.png",
        alts: &["Final loss gap against learning rate, both on log scales, for every optimizer on the Rosenbrock function, with crosses where runs diverged"],
        claims: &[],
    },
    FigureRow {
        id: "lr_boston",
        section: "sec-lr",
        title: "Linear regression on Boston housing (full batch)",
        text: "MEDV from LSTAT, full-batch gradients so that L-BFGS and Newton apply too, \
               500 steps, nine learning rates from 1e-4 to 1. The loss gap is the \
               training loss minus the least-squares optimum; steps to tol count steps until \
               it is within 1e-3.",
        command: "sweep --problem boston --all --lr 1e-4..1 --points {9|5} \
                  --steps {500|100} --tol 1e-3 --plot lr_boston.png",
        alts: &["Final loss gap above the least-squares optimum against learning rate for every optimizer on Boston housing"],
        claims: &[],
    },
    FigureRow {
        id: "lr_digits",
        section: "sec-lr",
        title: "The digits MLP (minibatches of 64)",
        text: "The multilayer perceptron of the digits section, 200 steps on \
               minibatches of 64, five learning rates from 1e-4 to 1; each curve is the test \
               accuracy at the end. Newton needs a Hessian, which the MLP does not provide, \
               and L-BFGS is left out: each of its steps runs up to 20 iterations \
               (<code>max_iter</code>) on its minibatch, which made it alone take most of \
               the report's time (both are listed under the table). Steps to tol count \
               steps until the training loss, evaluated every 50 steps, is below 0.1.",
        command: "sweep --problem digits --all --exclude lbfgs --batch-size 64 --lr 1e-4..1 \
                  --points {5|3} --steps {200|60} --every {50|20} --tol 0.1 --plot lr_digits.png",
        alts: &["Test accuracy against learning rate for every optimizer training the digits MLP, with crosses where runs diverged"],
        claims: &[],
    },
];

/// Comparisons whose learning rates are a sweep's best: `(figure, sweep figure)`. Run
/// `i` of the figure must use the best lr of the sweep's optimizer `i` (to the three
/// significant digits a command writes); the report checks it with the claims.
pub const LR_PICKS: &[(&str, &str)] = &[("muon", "muon_sweep")];

/// An optimizer's update rule (HTML) and the paper that introduced it.
pub struct Method {
    /// Spec name.
    pub name: &'static str,
    /// How the report names it.
    pub title: &'static str,
    pub rule: &'static str,
    pub paper: &'static str,
}

/// The update rules, in torch.optim's form (g: gradient, θ: parameters, η: lr).
pub const METHODS: &[Method] = &[
    Method {
        name: "sgd",
        title: "SGD (momentum, Nesterov)",
        rule: "v ← μ·v + (1 − τ)·g; θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μ·v); without momentum θ ← θ − η·g)",
        paper: "Polyak (1964), <em>Some methods of speeding up the convergence of iteration methods</em>; Sutskever et al. (2013), <em>On the importance of initialization and momentum in deep learning</em>",
    },
    Method {
        name: "adagrad",
        title: "AdaGrad",
        rule: "s ← s + g²; θ ← θ − η·g / (√s + ε)",
        paper: "Duchi, Hazan &amp; Singer (2011), <em>Adaptive subgradient methods for online learning and stochastic optimization</em>",
    },
    Method {
        name: "rmsprop",
        title: "RMSprop",
        rule: "s ← α·s + (1 − α)·g²; θ ← θ − η·g / (√s + ε)",
        paper: "Hinton, Srivastava &amp; Swersky (2012), <em>Neural networks for machine learning</em>, lecture 6e",
    },
    Method {
        name: "adadelta",
        title: "Adadelta",
        rule: "s ← ρ·s + (1 − ρ)·g²; Δ = g·√(u + ε) / √(s + ε); u ← ρ·u + (1 − ρ)·Δ²; θ ← θ − η·Δ",
        paper: "Zeiler (2012), <em>ADADELTA: an adaptive learning rate method</em>",
    },
    Method {
        name: "adam",
        title: "Adam",
        rule: "m ← β₁·m + (1 − β₁)·g; v ← β₂·v + (1 − β₂)·g²; θ ← θ − η·m̂ / (√v̂ + ε), with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)",
        paper: "Kingma &amp; Ba (2015), <em>Adam: a method for stochastic optimization</em>",
    },
    Method {
        name: "adamw",
        title: "AdamW",
        rule: "θ ← θ − η·λ·θ (decoupled weight decay), then Adam's step",
        paper: "Loshchilov &amp; Hutter (2019), <em>Decoupled weight decay regularization</em>",
    },
    Method {
        name: "nadam",
        title: "NAdam",
        rule: "Adam with a Nesterov look-ahead on the first moment: θ ← θ − η·(μₜ₊₁·m / (1 − Πμ) + (1 − μₜ)·g / (1 − Πμ)) / (√v̂ + ε), μₜ the decayed β₁",
        paper: "Dozat (2016), <em>Incorporating Nesterov momentum into Adam</em>",
    },
    Method {
        name: "radam",
        title: "RAdam",
        rule: "Adam's moments; while the variance estimate's degrees of freedom ρₜ ≤ 5, θ ← θ − η·m̂; after that θ ← θ − η·rₜ·m̂ / (√v̂ + ε), rₜ the rectification term",
        paper: "Liu et al. (2020), <em>On the variance of the adaptive learning rate and beyond</em>",
    },
    Method {
        name: "adamax",
        title: "Adamax",
        rule: "m ← β₁·m + (1 − β₁)·g; u ← max(β₂·u, |g| + ε); θ ← θ − η·m / ((1 − β₁ᵗ)·u)",
        paper: "Kingma &amp; Ba (2015), <em>Adam: a method for stochastic optimization</em>, section 7",
    },
    Method {
        name: "lion",
        title: "Lion",
        rule: "c = β₁·m + (1 − β₁)·g; θ ← θ − η·(sign(c) + λ·θ); m ← β₂·m + (1 − β₂)·g",
        paper: "Chen et al. (2023), <em>Symbolic discovery of optimization algorithms</em>",
    },
    Method {
        name: "muon",
        title: "Muon",
        rule: "b ← μ·b + (1 − μ)·g; u = Nesterov's μ·b + (1 − μ)·g; O = five Newton–Schulz iterations on u/‖u‖_F (≈ U·Vᵀ of u = U·Σ·Vᵀ: every singular value set near 1); θ ← θ·(1 − η·λ) − η·√max(1, rows/cols)·O",
        paper: "Jordan et al. (2024), <em>Muon: an optimizer for hidden layers in neural networks</em>; Liu et al. (2025), <em>Muon is scalable for LLM training</em>",
    },
    Method {
        name: "adafactor",
        title: "Adafactor",
        rule: "for a matrix: r ← β̂·r + (1 − β̂)·rowmean(g²), c ← β̂·c + (1 − β̂)·colmean(g²), V̂ = r·cᵀ / mean(r) (vectors keep v ← β̂·v + (1 − β̂)·g²), β̂ = 1 − t^−0.8; U = g/√V̂ clipped to RMS ≤ d; θ ← θ − max(ε₂, RMS(θ))·min(η, 1/√t)·U",
        paper: "Shazeer &amp; Stern (2018), <em>Adafactor: adaptive learning rates with sublinear memory cost</em>",
    },
    Method {
        name: "partition",
        title: "partition",
        rule: "tensors of rank ≥ 2 (the weight matrices) are stepped by its matrices optimizer (Muon), every other tensor (the biases) by its rest optimizer (AdamW)",
        paper: "as Optax's <code>partition</code>; the usual Muon set-up of Jordan et al. (2024)",
    },
    Method {
        name: "lbfgs",
        title: "L-BFGS",
        rule: "keep the last m pairs s = Δθ, y = Δg; the two-loop recursion turns them into d ≈ −H⁻¹·g; θ ← θ + η·d, up to max_iter times per step (with strong_wolfe, η from a line search meeting the strong Wolfe conditions)",
        paper: "Liu &amp; Nocedal (1989), <em>On the limited memory BFGS method for large scale optimization</em>; Nocedal &amp; Wright, <em>Numerical optimization</em>, chapter 7",
    },
    Method {
        name: "newton",
        title: "Newton's method",
        rule: "θ ← θ − η·H⁻¹·∇f (in 1-D, x ← x − η·f′(x) / f″(x))",
        paper: "Newton and Raphson (17th century); e.g. Nocedal &amp; Wright, <em>Numerical optimization</em>, chapter 3",
    },
];

/// The methods a command uses, in order of first appearance (every `--optimizer` spec's
/// name; plain SGD when it names none, as `schedules` and single-optimizer runs do).
/// `sweep --all` uses every method.
pub fn methods_of(args: &[String]) -> Vec<&'static Method> {
    if args.first().is_some_and(|a| a == "sweep") && args.iter().any(|a| a == "--all") {
        return METHODS.iter().collect();
    }
    let mut names: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--optimizer")
        .map(|w| w[1].split('(').next().unwrap_or("").trim())
        .collect();
    if let Some(pos) = args.iter().position(|a| a.starts_with("--optimizer=")) {
        names.push(
            args[pos]["--optimizer=".len()..]
                .split('(')
                .next()
                .unwrap_or(""),
        );
    }
    // Members of combinators too: `partition(matrices=muon, rest=adamw)` shows
    // partition's, Muon's and AdamW's rules.
    let specs: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--optimizer")
        .map(|w| w[1].clone())
        .collect();
    let mut nested = Vec::new();
    for spec in &specs {
        if let Ok(call) = gradus::spec::parse(spec) {
            members(&call, &mut nested);
        }
    }
    let names = names
        .into_iter()
        .map(str::to_string)
        .chain(nested)
        .collect::<Vec<String>>();
    let mut out: Vec<&'static Method> = Vec::new();
    for n in &names {
        if let Some(m) = METHODS.iter().find(|m| m.name == n.as_str()) {
            if !out.iter().any(|o| o.name == m.name) {
                out.push(m);
            }
        }
    }
    out
}

/// The names of the optimizers nested in `call`'s arguments, depth first.
fn members(call: &gradus::spec::Call, out: &mut Vec<String>) {
    use gradus::spec::Value;
    let values = call
        .positional
        .iter()
        .chain(call.keywords.iter().map(|(_, v)| v));
    for v in values {
        if let Value::Call(c) = v {
            out.push(c.name.clone());
            members(c, out);
        }
    }
}
