"""KM417: published Keras 2 library optimizers -> the ready modern.optimizers class, or what to write."""

from __future__ import annotations

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

SRC = '''
from keras_bert import AdamWarmup, calc_train_steps
import keras_radam
from bert4keras.optimizers import Adam, extend_with_weight_decay, extend_with_lookahead_v2
from bert4keras.optimizers import extend_with_lazy_optimization

total, warmup = calc_train_steps(1024, 32, 10)
opt = AdamWarmup(decay_steps=total, warmup_steps=warmup, lr=1e-3)
radam = keras_radam.RAdam(total_steps=1000)
AdamW = extend_with_weight_decay(Adam, 'AdamW')
AdamLA = extend_with_lookahead_v2(Adam, 'AdamLA')
AdamLazy = extend_with_lazy_optimization(Adam)
'''


def _messages(findings):
    return {f.line: f.message for f in findings if f.rule == "KM417"}


def test_reported_with_the_modern_class_and_code_left_alone():
    out, findings = rw(SRC)
    assert out == SRC.lstrip("\n")  # report only: the library may stay installed
    messages = _messages(findings)
    assert "modern.optimizers.AdamWarmup" in messages[7] and "learning_rate= for lr=" in messages[7]
    assert "modern.optimizers.RAdam" in messages[8]
    assert "weight_decay=<weight_decay_rate>" in messages[9] and "exclude_from_weight_decay" in messages[9]
    assert "modern.optimizers.Lookahead" in messages[10] and "slow weights at zero" in messages[10]
    assert "no Keras 3 equivalent" in messages[11] and "update_step" in messages[11]
    assert not any(f.fixed for f in findings if f.rule == "KM417")
    assert len(messages) == 5  # calc_train_steps and the bert4keras Adam import are not findings of this rule


def test_aliases():
    src = '''
    import keras_radam as kr
    import keras_bert.optimizers as kbo
    from keras_lookahead import Lookahead

    a = kr.RAdam()
    b = kbo.AdamWarmup(10, 2)
    c = Lookahead(a, sync_period=5, slow_step=0.5)
    '''
    _, findings = rw(src)
    messages = _messages(findings)
    assert "modern.optimizers.RAdam" in messages[5]
    assert "modern.optimizers.AdamWarmup" in messages[6]
    assert "modern.optimizers.Lookahead" in messages[7]


def test_noop_own_class_of_the_same_name():
    src = '''
    import keras


    class RAdam(keras.optimizers.Adam):
        pass


    opt = RAdam(learning_rate=1e-3)
    '''
    _, findings = rw(src)
    assert "KM417" not in rules_of(findings)


def test_idempotent():
    assert_fixed_point(SRC)
