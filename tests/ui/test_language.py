"""The pages speak English or Japanese: the browser's language until the user picks one,
then the user's pick in every browser; one person's language never reaches another's page."""

import asyncio
import re
from typing import Any

from nicegui import ui
from nicegui.testing import User

from app.ui.driver.wallet import words_script
from tests.conftest import GraphQLClient
from tests.ui.conftest import SLOW, Person, sign_in

SET_LANGUAGE = """
mutation ($language: String!) {
  setMyLanguage(language: $language) {
    __typename
    ... on MyLanguage { language }
    ... on InvalidInput { message }
  }
}
"""


async def sign_in_in_japanese(user: User, login: str, password: str, path: str) -> None:
    await user.open(path)
    user.find("ログイン名").type(login)
    user.find("パスワード").type(password)
    user.find(kind=ui.button, content="サインイン").click()
    await user.should_see("サインアウト", retries=SLOW)


async def choose_language(user: User, name: str) -> None:
    user.find(marker="language").click()  # opens the choice
    user.find(name).click()


async def sees_on_reopening(user: User, path: str, words: str) -> None:
    """The switch reloads the page, but NiceGUI's simulation has one ui.navigate for all
    simulated people (whichever was last busy): with several people on pages, the test opens
    the page again itself, until the switch's change has been stored."""
    for _ in range(SLOW):
        await user.open(path)
        try:
            await user.should_see(words, retries=1)
            return
        except AssertionError:
            await asyncio.sleep(0.1)
    await user.should_see(words)


async def test_a_browser_asking_for_japanese_gets_japanese_pages(
    person: Person, demo: dict[str, Any]
) -> None:
    driver = person(accept_language="ja-JP,ja;q=0.9,en;q=0.5")
    await driver.open("/app")
    for words in ("ログイン名", "パスワード", "サインイン"):
        await driver.should_see(words, retries=SLOW)
    await driver.should_not_see("Password")

    await sign_in_in_japanese(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    for words in ("充電", "充電器", "日付", "開始時刻", "利用時間", "リクエスト"):
        await driver.should_see(words, retries=SLOW)
    await driver.should_see("Bay 1 はその日終日空いています。", retries=SLOW)
    await driver.should_not_see("Start time")

    driver.find(kind=ui.button, content="リクエスト").click()
    await driver.should_see("承認済み", retries=SLOW)  # the status, live, in words


async def test_the_page_itself_is_marked_in_its_language_per_browser(person: Person) -> None:
    """<html lang> (screen readers, fonts) and Quasar's own words (a table's paging) follow the
    browser's language, and one browser's language does not reach another's page."""
    japanese, english = person(accept_language="ja"), person(accept_language="en-GB")
    for _ in range(2):  # in turns: a shared setting would show on the second of each pair
        ja_page = await japanese.http_client.get("/sign-in")
        en_page = await english.http_client.get("/sign-in")
        assert '<html lang="ja">' in ja_page.text
        assert "/static/lang/ja.umd.prod.js" in ja_page.text
        assert '<html lang="en-US">' in en_page.text
        assert "/static/lang/en-US.umd.prod.js" in en_page.text


async def test_an_english_browser_gets_english_and_a_wrong_password_says_so_in_japanese(
    person: Person, demo: dict[str, Any]
) -> None:
    english = person(accept_language="de-DE,en;q=0.8")  # no German: the next one it takes
    await english.open("/manage")
    await english.should_see("Password", retries=SLOW)

    japanese = person(accept_language="ja")
    await japanese.open("/manage")
    japanese.find("ログイン名").type(demo["manager"]["login"])
    japanese.find("パスワード").type("not-the-password")
    japanese.find(kind=ui.button, content="サインイン").click()
    await japanese.should_see("ログイン名またはパスワードが違います。", retries=SLOW)


async def test_a_users_language_follows_them_to_another_browser_and_no_one_else(
    person: Person, demo: dict[str, Any]
) -> None:
    uma = person()
    await sign_in(uma, demo["user2"]["login"], demo["user2"]["password"], "/app")
    udo_phone = person()
    await sign_in(udo_phone, demo["user"]["login"], demo["user"]["password"], "/app")
    await udo_phone.should_see("Start time", retries=SLOW)

    await choose_language(udo_phone, "日本語")
    await sees_on_reopening(udo_phone, "/app", "開始時刻")

    udo_laptop = person()  # another browser, English by its own settings
    await sign_in(udo_laptop, demo["user"]["login"], demo["user"]["password"], "/app")
    await udo_laptop.should_see("開始時刻", retries=SLOW)
    await udo_laptop.should_not_see("Start time")

    await uma.open("/app")  # another user, whose page was open meanwhile
    await uma.should_see("Start time", retries=SLOW)
    await uma.should_not_see("開始時刻")

    await choose_language(udo_laptop, "English")
    await sees_on_reopening(udo_laptop, "/app", "Start time")
    await udo_phone.open("/app")
    await udo_phone.should_see("Start time", retries=SLOW)


async def test_the_sign_in_page_switches_language_before_anyone_signs_in(
    person: Person, demo: dict[str, Any]
) -> None:
    visitor = person()
    await visitor.open("/sign-in")
    await visitor.should_see("Password", retries=SLOW)
    await choose_language(visitor, "日本語")
    await visitor.should_see("パスワード", retries=SLOW)
    await visitor.open("/app")  # this browser keeps its choice
    await visitor.should_see("パスワード", retries=SLOW)


async def test_set_my_language_over_graphql_refuses_a_language_the_pages_do_not_speak(
    gql: GraphQLClient, tokens: dict[str, str], person: Person, demo: dict[str, Any]
) -> None:
    refused = await gql(SET_LANGUAGE, {"language": "klingon"}, tokens["user"])
    answer = refused["data"]["setMyLanguage"]
    assert answer["__typename"] == "InvalidInput"
    assert "en, ja" in answer["message"]

    chosen = await gql(SET_LANGUAGE, {"language": "ja"}, tokens["user"])
    assert chosen["data"]["setMyLanguage"] == {"__typename": "MyLanguage", "language": "ja"}
    driver = person()  # an English browser: the user's choice wins
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("開始時刻", retries=SLOW)

    unauthenticated = await gql(SET_LANGUAGE, {"language": "en"})
    assert unauthenticated["errors"]


def test_the_offline_wallet_has_its_words_in_each_language() -> None:
    script = words_script()
    assert '"send": "Send to charger"' in script
    assert '"send": "充電器に送信"' in script
    assert '"qr": "許可証のQRコード"' in script


async def test_the_servers_refusals_read_in_japanese_with_their_values(
    person: Person, demo: dict[str, Any]
) -> None:
    driver = person(accept_language="ja")
    await sign_in_in_japanese(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("開始時刻", retries=SLOW)
    driver.find(kind=ui.input, content="日付").clear().type("2099-01-05")
    driver.find(kind=ui.button, content="リクエスト").click()
    await driver.should_see("リクエストできませんでした:", retries=SLOW)
    [refusals] = driver.find(marker="refusals").elements
    words = [label.text for label in refusals.descendants() if isinstance(label, ui.label)]
    # The rule's English message, "Slots can be booked at most 14 days ahead.", in Japanese
    # with its number kept.
    assert any(re.fullmatch(r"予約できるのは最大\d+日先までです。", text) for text in words), words
