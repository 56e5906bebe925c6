"""The tiny tokenizer: answers survive encode → decode; time tokens are single tokens."""
from chronus_lab.model.timestamps import TextTime, TokenTime
from chronus_lab.model.tokenizer import MODALITY_TOKENS, time_tokens
from chronus_lab.world import make_tasks


def test_answers_round_trip(tiny_tok, clips):
    for clip, _ in clips[:20]:
        for fmt in (TextTime(), TokenTime()):
            for task in make_tasks(clip, seed=2, fmt=fmt):
                for text in (task.question, task.answer):
                    ids = tiny_tok(" " + text, add_special_tokens=False).input_ids
                    assert tiny_tok.unk_token_id not in ids
                    decoded = tiny_tok.decode(ids)
                    if fmt.name == "token":
                        assert fmt.parse_times(decoded) == fmt.parse_times(text)
                    else:
                        assert decoded.strip() == text


def test_time_tokens_are_single_special_tokens(tiny_tok):
    ids = tiny_tok(" <t_3> <t_12>", add_special_tokens=False).input_ids
    assert ids == tiny_tok.convert_tokens_to_ids(["<t_3>", "<t_12>"])  # the spaces cost nothing
    vocab = tiny_tok.get_vocab()
    assert all(t in vocab for t in time_tokens(64) + MODALITY_TOKENS)


def test_special_ids(tiny_tok):
    # CLIP's text tower takes a legacy pooling path when eos_token_id == 2
    assert tiny_tok.eos_token_id != 2 and len({tiny_tok.pad_token_id, tiny_tok.bos_token_id, tiny_tok.eos_token_id}) == 3
    assert len(tiny_tok) < 512


def test_digits_are_read_one_by_one(tiny_tok):
    assert tiny_tok.tokenize("second{12.5}").count("1") == 1
