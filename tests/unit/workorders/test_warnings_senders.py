"""Sender settings refused at start, and the SMS gateway stand-in as strict as a real gateway."""

import json

import pytest

from hotline.settings import SettingsError
from workorders.notice_senders import sms_signature
from workorders.settings import load_workorder_settings
from workorders.sms_standin import SmsGateway

SMS = {
    "notice_senders": ["sms"],
    "sms_url": "http://127.0.0.1:8025",
    "sms_app_key": "k",
    "sms_app_secret": "s",
    "sms_template_id": "SMS_WO_ALERT",
}

WX = {
    "notice_senders": ["wechat"],
    "wechat_appid": "wx0123456789abcdef",
    "wechat_secret": "s",
    "wechat_template_id": "TPL_WO_ALERT",
}


def test_by_default_only_in_app_notices_are_on_and_nothing_outside_is_needed():
    s = load_workorder_settings()
    assert s.notice_senders == [] and s.alerts_per_round > 0


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"notice_senders": ["fax"]}, "unknown sender 'fax'"),
        ({"notice_senders": ["sms"]}, "needs sms_url, sms_app_key, sms_app_secret, sms_template_id"),
        ({**SMS, "sms_url": "127.0.0.1:8025"}, "not an http(s) URL"),
        ({**SMS, "sms_sign_name": "12345热线"}, "registered signature in 【】"),
        ({**SMS, "sms_phones": {"water": ["1380013800"]}}, "sms_phones.water: 1380013800 is not a mainland mobile"),
        ({**SMS, "sms_phones": {"water": ["12800138000"]}}, "not a mainland mobile"),
        ({"alerts_per_round": 0}, "alerts_per_round"),
        ({"alert_deadlines": ["sign", "lunch"]}, "alert_deadlines.1"),
        ({"notice_senders": ["wechat"]}, "needs wechat_appid, wechat_secret, wechat_template_id"),
        ({**WX, "wechat_appid": "0123456789abcdef"}, "wx followed by 16 hex digits"),
        ({**WX, "wechat_url": "api.weixin.qq.com"}, "not an http(s) URL"),
        ({**WX, "wechat_openids": {"supervisors": ["o123"]}}, "wechat_openids.supervisors: o123 is not an openid"),
    ],
)
def test_sender_configuration_errors_are_refused_at_start_with_the_setting_named(bad, says):
    with pytest.raises(SettingsError, match="workorders") as err:
        load_workorder_settings(**bad)
    assert says in str(err.value)


def test_a_complete_sms_and_wechat_configuration_is_accepted():
    s = load_workorder_settings(**SMS, sms_phones={"water": ["13800138000"], "supervisors": ["19912345678"]})
    assert s.notice_senders == ["sms"]
    both = {**SMS, **WX, "notice_senders": ["sms", "wechat"]}
    s = load_workorder_settings(**both, wechat_openids={"water": ["oUnitHousing_0123456789abcde"]})
    assert s.notice_senders == ["sms", "wechat"]


class Clock:
    t = 1_800_000_000.0

    def __call__(self):
        return self.t


def request(gw, phone="13800138000", **over):
    params = json.dumps({"order": "7", "what": "签收", "due": "2026-03-10 11:00", "status": "将至"}, ensure_ascii=False)
    body = {
        "app_key": "standin-key",
        "timestamp": str(int(gw.clock())),
        "nonce": over.pop("nonce", None) or f"n{len(gw._nonces)}-{phone}",
        "phone": phone,
        "sign_name": "【12345热线】",
        "template_id": "SMS_WO_ALERT",
        "params": params,
    } | over
    secret = over.pop("secret", "standin-secret")
    body.pop("secret", None)
    body["sign"] = sms_signature(secret, body)
    return gw.answer(body)


def test_the_gateway_sends_a_well_formed_signed_request_with_its_signature_in_front():
    gw = SmsGateway(clock=Clock())
    assert request(gw)["code"] == "OK"
    assert gw.sent[0]["text"] == "【12345热线】工单7签收期限2026-03-10 11:00将至，请及时处理。"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"app_key": "other"}, "INVALID_APP_KEY"),
        ({"secret": "wrong"}, "SIGNATURE_DOES_NOT_MATCH"),
        ({"timestamp": "1799999000"}, "TIMESTAMP_EXPIRED"),
        ({"phone": "1380013800"}, "MOBILE_NUMBER_ILLEGAL"),
        ({"phone": "12800138000"}, "MOBILE_NUMBER_ILLEGAL"),
        ({"sign_name": "【别的】"}, "SIGN_NAME_ILLEGAL"),
        ({"template_id": "SMS_X"}, "TEMPLATE_MISSING"),
        ({"params": json.dumps({"order": "7"})}, "TEMPLATE_PARAMS_ILLEGAL"),
        (
            {"params": json.dumps({"order": "7" * 36, "what": "a", "due": "b", "status": "c"})},
            "TEMPLATE_PARAMS_ILLEGAL",
        ),
    ],
)
def test_the_gateway_refuses_what_a_real_gateway_refuses(over, code):
    gw = SmsGateway(clock=Clock())
    assert request(gw, **over)["code"] == code
    assert gw.sent == []


def test_the_gateway_refuses_a_missing_field_and_a_reused_nonce():
    gw = SmsGateway(clock=Clock())
    assert gw.answer({"phone": "13800138000"})["code"] == "MISSING_PARAMETER"
    assert request(gw, nonce="same")["code"] == "OK"
    assert request(gw, phone="13900139000", nonce="same")["code"] == "NONCE_REUSED"


def test_the_gateway_limits_each_number_to_1_a_minute_5_an_hour_10_a_day():
    clock = Clock()
    gw = SmsGateway(clock=clock)
    assert request(gw)["code"] == "OK"
    assert request(gw)["code"] == "BUSINESS_LIMIT_CONTROL"
    assert request(gw, phone="13900139000")["code"] == "OK"  # per number
    for _ in range(4):
        clock.t += 61
        assert request(gw)["code"] == "OK"
    clock.t += 61
    assert request(gw)["code"] == "BUSINESS_LIMIT_CONTROL"  # 5 in the hour
    for _ in range(5):
        clock.t += 3601
        request(gw)
    clock.t += 3601
    assert request(gw)["code"] == "BUSINESS_LIMIT_CONTROL"  # 10 in the day
    assert len([s for s in gw.sent if s["phone"] == "13800138000"]) == 10
