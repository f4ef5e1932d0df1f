//! Splitting input into statements, choosing a parser by each statement's leading tokens, and
//! the token-level helpers that the statement parsers in the sibling modules share.
//!
//! Every statement is tokenized once with sqlparser's MySQL tokenizer (which already expands
//! MySQL executable comments `/*!40101 ... */` into tokens and keeps quoting and escapes
//! right). StarRocks and MySQL administration statements are parsed here token by token;
//! pieces such as expressions and queries are delegated to sqlparser's [`Parser`] running on
//! the same tokens, and everything else is parsed entirely by sqlparser.

use datafusion::sql::sqlparser::dialect::MySqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Word};

use crate::ast::{QualifiedName, Statement};
use crate::error::{ParseError, split_sqlparser_error, split_tokenizer_error};

/// sqlparser's parser borrows its dialect; a static one lets [`StatementParser`] own its parser.
static DIALECT: MySqlDialect = MySqlDialect {};

/// How much of the input a syntax error quotes after `near`, like MySQL does.
const NEAR_TEXT_LIMIT: usize = 80;

/// The parts of the session's `sql_mode` that change how SQL text reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// `PIPES_AS_CONCAT`: `a || b` concatenates. Without it, `||` is MySQL's logical OR.
    pub pipes_as_concat: bool,
    /// `ANSI_QUOTES`: `"x"` is an identifier, like `` `x` ``. Without it, a string.
    pub ansi_quotes: bool,
}

/// Parses every statement of `sql`, which may hold several separated by `;`. Empty statements
/// (nothing but whitespace and comments between separators) are skipped, so an input of only
/// comments yields an empty list.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>, ParseError> {
    parse_statements_with(sql, ParseOptions::default())
}

/// [`parse_statements`] under a session's `sql_mode`.
pub fn parse_statements_with(sql: &str, options: ParseOptions) -> Result<Vec<Statement>, ParseError> {
    let source = Source::new(sql);
    let mut tokens = tokenize(&source)?;
    apply_sql_mode(&mut tokens, options);
    split_statements(tokens)
        .into_iter()
        .map(|tokens| StatementParser::new(&source, tokens).parse_statement())
        .collect()
}

/// Parses exactly one statement (a trailing `;` is allowed). An empty input is the error
/// "Query was empty", as in MySQL.
pub fn parse_statement(sql: &str) -> Result<Statement, ParseError> {
    let source = Source::new(sql);
    let mut statements = split_statements(tokenize(&source)?).into_iter();
    let Some(first) = statements.next() else {
        return Err(ParseError::new("Query was empty"));
    };
    let statement = StatementParser::new(&source, first).parse_statement()?;
    if let Some(second) = statements.next() {
        let parser = StatementParser::new(&source, second);
        return Err(parser.syntax_error_here("Expected a single statement, found a second one"));
    }
    Ok(statement)
}

fn tokenize(source: &Source<'_>) -> Result<Vec<TokenWithSpan>, ParseError> {
    Tokenizer::new(&DIALECT, source.text)
        .tokenize_with_location()
        .map_err(|error| {
            let (message, location) = split_tokenizer_error(&error);
            let message = format!("You have an error in your SQL syntax: {message}");
            match location {
                Some(location) => ParseError::at(message, location),
                None => ParseError::new(message),
            }
        })
}

/// Rewrites the tokens whose meaning `sql_mode` decides, so every statement parser, and
/// sqlparser's operator precedence, sees the mode's reading: `||` as OR binds like OR.
fn apply_sql_mode(tokens: &mut [TokenWithSpan], options: ParseOptions) {
    for token in tokens.iter_mut() {
        match &token.token {
            Token::StringConcat if !options.pipes_as_concat => {
                token.token = Token::make_keyword("OR");
            }
            Token::DoubleQuotedString(text) if options.ansi_quotes => {
                token.token = Token::Word(Word {
                    value: text.clone(),
                    quote_style: Some('"'),
                    keyword: Keyword::NoKeyword,
                });
            }
            _ => {}
        }
    }
}

/// The text of a quoted string token. Under `ANSI_QUOTES` a double-quoted string arrives as a
/// `"`-quoted word; where StarRocks' own grammar wants a string (PROPERTIES, labels, comments,
/// defaults, user names) it is still one, as in StarRocks.
pub(crate) fn quoted_text(token: &Token) -> Option<&str> {
    match token {
        Token::SingleQuotedString(text) | Token::DoubleQuotedString(text) => Some(text),
        Token::Word(word) if word.quote_style == Some('"') => Some(&word.value),
        _ => None,
    }
}

/// Splits the token stream at `;` tokens. The tokenizer has already put quoted text and
/// comments into single tokens, so only real separators split. Statements made only of
/// whitespace and comments are dropped.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            push_if_not_empty(&mut statements, std::mem::take(&mut current));
        } else {
            current.push(token);
        }
    }
    push_if_not_empty(&mut statements, current);
    statements
}

fn push_if_not_empty(statements: &mut Vec<Vec<TokenWithSpan>>, tokens: Vec<TokenWithSpan>) {
    if tokens.iter().any(|token| !is_whitespace(&token.token)) {
        statements.push(tokens);
    }
}

fn is_whitespace(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// The input text with an index of line starts, to turn token positions (line and column in
/// characters) back into text for error messages and for statements kept verbatim.
pub(crate) struct Source<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Source<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Source { text, line_starts }
    }

    /// Byte offset of a 1-based line and column, `None` for unknown or out-of-range positions.
    fn offset(&self, location: Location) -> Option<usize> {
        let line_index = usize::try_from(location.line.checked_sub(1)?).ok()?;
        let line_start = *self.line_starts.get(line_index)?;
        let column_index = usize::try_from(location.column.checked_sub(1)?).ok()?;
        let line_text = &self.text[line_start..];
        match line_text.char_indices().nth(column_index) {
            Some((offset, _)) => Some(line_start + offset),
            None if line_text.chars().count() == column_index => Some(self.text.len()),
            None => None,
        }
    }

    /// The text from `start` up to (not including) `end`; empty when either is unknown.
    fn text_between(&self, start: Location, end: Location) -> &'a str {
        match (self.offset(start), self.offset(end)) {
            (Some(start), Some(end)) if start <= end => self.text.get(start..end).unwrap_or(""),
            _ => "",
        }
    }
}

/// A parser for one statement: sqlparser's [`Parser`] over the statement's tokens, plus the
/// helpers for StarRocks words that sqlparser does not know as keywords (words are compared
/// by their text, case-insensitively, never by sqlparser's keyword table).
pub(crate) struct StatementParser<'a> {
    pub(crate) parser: Parser<'static>,
    tokens: Vec<TokenWithSpan>,
    source: &'a Source<'a>,
}

impl<'a> StatementParser<'a> {
    pub(crate) fn new(source: &'a Source<'a>, tokens: Vec<TokenWithSpan>) -> StatementParser<'a> {
        let parser = Parser::new(&DIALECT).with_tokens_with_locations(tokens.clone());
        StatementParser {
            parser,
            tokens,
            source,
        }
    }

    /// Parses the whole statement, choosing by its leading words.
    pub(crate) fn parse_statement(&mut self) -> Result<Statement, ParseError> {
        let leading_word = self.peek_word().map(str::to_ascii_uppercase);
        let statement = match leading_word.as_deref() {
            Some("CREATE") => self.parse_create()?,
            Some("DROP") => self.parse_drop()?,
            Some("ALTER") => self.parse_alter()?,
            Some("TRUNCATE") => self.parse_truncate()?,
            Some("INSERT") => self.parse_insert()?,
            Some("DELETE") => self.parse_delete()?,
            Some("USE") => self.parse_use()?,
            Some("SET") => self.parse_set()?,
            Some("SHOW") => self.parse_show()?,
            Some("DESC" | "DESCRIBE") => self.parse_describe()?,
            Some("EXPLAIN") => self.parse_explain()?,
            Some("BEGIN" | "START" | "COMMIT" | "ROLLBACK") => self.parse_transaction_control()?,
            Some("ANALYZE" | "ADMIN" | "REFRESH") => self.parse_no_op(),
            Some("KILL") => self.parse_kill()?,
            Some("GRANT") => self.parse_grant()?,
            Some("REVOKE") => self.parse_revoke()?,
            Some("PAUSE" | "RESUME" | "STOP") => self.parse_routine_load_control()?,
            _ => self.parse_with_sqlparser()?,
        };
        self.expect_end()?;
        Ok(statement)
    }

    /// Hands the whole statement to sqlparser's MySQL dialect.
    pub(crate) fn parse_with_sqlparser(&mut self) -> Result<Statement, ParseError> {
        // Start over: the caller may have looked at a few words before deciding.
        self.parser = Parser::new(&DIALECT).with_tokens_with_locations(self.tokens.clone());
        let statement = self
            .parser
            .parse_statement()
            .map_err(|error| self.sqlparser_error(&error))?;
        Ok(Statement::Query(Box::new(statement)))
    }

    /// Parses the rest of the statement as a statement of its own (the body of EXPLAIN).
    pub(crate) fn parse_rest_as_statement(&mut self) -> Result<Statement, ParseError> {
        // The caller has consumed at least the leading word, so the index is meaningful.
        let next_index = self.parser.get_current_index() + 1;
        let rest: Vec<TokenWithSpan> = self.tokens.get(next_index..).unwrap_or_default().to_vec();
        if !rest.iter().any(|token| !is_whitespace(&token.token)) {
            return Err(self.expected("a statement"));
        }
        // One level only: nested EXPLAINs would each copy the rest of the tokens.
        if ["EXPLAIN", "DESC", "DESCRIBE"]
            .iter()
            .any(|word| self.peek_word_is(word))
        {
            return Err(self.syntax_error_here("EXPLAIN cannot explain another EXPLAIN"));
        }
        let statement = StatementParser::new(self.source, rest).parse_statement()?;
        while !self.at_end() {
            self.parser.advance_token();
        }
        Ok(statement)
    }

    /// The whole statement as written (without the `;`), for statements kept as text.
    pub(crate) fn statement_text(&self) -> String {
        let first = self
            .tokens
            .iter()
            .find(|token| !is_whitespace(&token.token));
        match first {
            Some(first) => self
                .source
                .text_between(first.span.start, self.end_location())
                .to_string(),
            None => String::new(),
        }
    }

    // ----- Looking at tokens -----

    pub(crate) fn peek(&self) -> &TokenWithSpan {
        self.parser.peek_token_ref()
    }

    pub(crate) fn peek_nth(&self, n: usize) -> &TokenWithSpan {
        self.parser.peek_nth_token_ref(n)
    }

    /// The next token's text when it is an unquoted word.
    pub(crate) fn peek_word(&self) -> Option<&str> {
        unquoted_word(&self.peek().token)
    }

    pub(crate) fn peek_word_is(&self, word: &str) -> bool {
        self.peek_nth_word_is(0, word)
    }

    pub(crate) fn peek_nth_word_is(&self, n: usize, word: &str) -> bool {
        unquoted_word(&self.peek_nth(n).token).is_some_and(|text| text.eq_ignore_ascii_case(word))
    }

    pub(crate) fn peek_token_is(&self, token: &Token) -> bool {
        &self.peek().token == token
    }

    pub(crate) fn at_end(&self) -> bool {
        self.peek_token_is(&Token::EOF)
    }

    /// Where the next token starts; the end of the statement when there is none.
    pub(crate) fn location(&self) -> Location {
        let token = self.peek();
        if token.token == Token::EOF || token.span.start.line == 0 {
            self.end_location()
        } else {
            token.span.start
        }
    }

    /// Just after the statement's last token.
    pub(crate) fn end_location(&self) -> Location {
        self.tokens
            .iter()
            .rev()
            .find(|token| !is_whitespace(&token.token))
            .map(|token| token.span.end)
            .unwrap_or(Location { line: 0, column: 0 })
    }

    /// Just after the last token consumed.
    pub(crate) fn previous_end(&self) -> Location {
        self.tokens
            .get(self.parser.get_current_index())
            .map(|token| token.span.end)
            .unwrap_or_else(|| self.location())
    }

    /// The statement's text from `start` up to `end`, as written.
    pub(crate) fn text_between(&self, start: Location, end: Location) -> String {
        self.source.text_between(start, end).to_string()
    }

    // ----- Consuming tokens -----

    /// Consumes the next token if it is the unquoted word `word` (any case).
    pub(crate) fn parse_word(&mut self, word: &str) -> bool {
        if self.peek_word_is(word) {
            self.parser.advance_token();
            true
        } else {
            false
        }
    }

    /// Consumes `words` if all of them come next, and nothing otherwise.
    pub(crate) fn parse_words(&mut self, words: &[&str]) -> bool {
        let all_match = words
            .iter()
            .enumerate()
            .all(|(index, word)| self.peek_nth_word_is(index, word));
        if all_match {
            for _ in words {
                self.parser.advance_token();
            }
        }
        all_match
    }

    /// Consumes the next word if it is one of `words`, returning which.
    pub(crate) fn parse_one_of_words(&mut self, words: &[&'static str]) -> Option<&'static str> {
        let found = words.iter().find(|word| self.peek_word_is(word)).copied();
        if found.is_some() {
            self.parser.advance_token();
        }
        found
    }

    pub(crate) fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        if self.parse_word(word) {
            Ok(())
        } else {
            Err(self.expected(&word.to_ascii_uppercase()))
        }
    }

    pub(crate) fn expect_words(&mut self, words: &[&str]) -> Result<(), ParseError> {
        for word in words {
            self.expect_word(word)?;
        }
        Ok(())
    }

    pub(crate) fn consume(&mut self, token: &Token) -> bool {
        self.parser.consume_token(token)
    }

    pub(crate) fn expect_token(&mut self, token: &Token) -> Result<(), ParseError> {
        if self.consume(token) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{token}'")))
        }
    }

    pub(crate) fn expect_end(&mut self) -> Result<(), ParseError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.expected("the end of the statement"))
        }
    }

    /// `IF NOT EXISTS`, consumed when present.
    pub(crate) fn parse_if_not_exists(&mut self) -> Result<bool, ParseError> {
        if self.parse_word("IF") {
            self.expect_words(&["NOT", "EXISTS"])?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// `IF EXISTS`, consumed when present.
    pub(crate) fn parse_if_exists(&mut self) -> Result<bool, ParseError> {
        if self.parse_word("IF") {
            self.expect_word("EXISTS")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// An identifier: an unquoted word (keywords included, as StarRocks allows most of them),
    /// a backquoted name, or under `ANSI_QUOTES` a double-quoted one. `what` names it in the
    /// error.
    pub(crate) fn parse_identifier(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().token {
            Token::Word(word) if matches!(word.quote_style, None | Some('`') | Some('"')) => {
                let value = word.value.clone();
                self.parser.advance_token();
                Ok(value)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// An identifier with the location where it starts, for errors found later.
    pub(crate) fn parse_located_identifier(
        &mut self,
        what: &str,
    ) -> Result<(String, Location), ParseError> {
        let location = self.location();
        Ok((self.parse_identifier(what)?, location))
    }

    /// `name`, `db.name` or `catalog.db.name` (the catalog is dropped: Cairn has one).
    pub(crate) fn parse_qualified_name(&mut self, what: &str) -> Result<QualifiedName, ParseError> {
        let mut parts = vec![self.parse_identifier(what)?];
        while self.consume(&Token::Period) {
            parts.push(self.parse_identifier(what)?);
        }
        if parts.len() > 3 {
            return Err(self.syntax_error_here(&format!(
                "Too many dots in the {what} '{}'",
                parts.join(".")
            )));
        }
        let name = parts.pop().unwrap_or_default();
        let database = parts.pop();
        Ok(QualifiedName { database, name })
    }

    /// A database name, `db` or `catalog.db` (the catalog is dropped).
    pub(crate) fn parse_database_name(&mut self) -> Result<String, ParseError> {
        let mut name = self.parse_identifier("a database name")?;
        if self.consume(&Token::Period) {
            name = self.parse_identifier("a database name")?;
        }
        Ok(name)
    }

    /// A quoted string, with single or double quotes (StarRocks accepts both).
    pub(crate) fn parse_string(&mut self, what: &str) -> Result<String, ParseError> {
        match quoted_text(&self.peek().token) {
            Some(text) => {
                let text = text.to_string();
                self.parser.advance_token();
                Ok(text)
            }
            None => Err(self.expected(what)),
        }
    }

    /// A string or an identifier (user names, labels, charsets).
    pub(crate) fn parse_string_or_identifier(&mut self, what: &str) -> Result<String, ParseError> {
        match quoted_text(&self.peek().token) {
            Some(_) => self.parse_string(what),
            None => self.parse_identifier(what),
        }
    }

    /// An unsigned integer literal.
    pub(crate) fn parse_unsigned_integer(&mut self, what: &str) -> Result<u64, ParseError> {
        if let Token::Number(text, _) = &self.peek().token
            && let Ok(value) = text.parse::<u64>()
        {
            self.parser.advance_token();
            return Ok(value);
        }
        Err(self.expected(what))
    }

    /// `(name, name, ...)`, each name with its location.
    pub(crate) fn parse_parenthesized_identifiers(
        &mut self,
        what: &str,
    ) -> Result<Vec<(String, Location)>, ParseError> {
        self.expect_token(&Token::LParen)?;
        let mut names = vec![self.parse_located_identifier(what)?];
        while self.consume(&Token::Comma) {
            names.push(self.parse_located_identifier(what)?);
        }
        self.expect_token(&Token::RParen)?;
        Ok(names)
    }

    /// `PARTITION (p1, p2)`, `PARTITIONS (p1)` or `PARTITION p1`, after a table name.
    pub(crate) fn parse_optional_partition_names(&mut self) -> Result<Vec<String>, ParseError> {
        if self
            .parse_one_of_words(&["PARTITION", "PARTITIONS"])
            .is_none()
        {
            return Ok(Vec::new());
        }
        if self.peek_token_is(&Token::LParen) {
            Ok(self
                .parse_parenthesized_identifiers("a partition name")?
                .into_iter()
                .map(|(name, _)| name)
                .collect())
        } else {
            Ok(vec![self.parse_identifier("a partition name")?])
        }
    }

    /// Runs a sqlparser method on the current position, converting its error.
    pub(crate) fn with_sqlparser<T>(
        &mut self,
        parse: impl FnOnce(&mut Parser<'static>) -> Result<T, ParserError>,
    ) -> Result<T, ParseError> {
        parse(&mut self.parser).map_err(|error| self.sqlparser_error(&error))
    }

    // ----- Errors -----

    /// "Expected `what`, found ..." at the next token.
    pub(crate) fn expected(&self, what: &str) -> ParseError {
        let found = match &self.peek().token {
            Token::EOF => "the end of the statement".to_string(),
            token => format!("'{token}'"),
        };
        self.syntax_error_here(&format!("Expected {what}, found {found}"))
    }

    /// A syntax error at the next token.
    pub(crate) fn syntax_error_here(&self, detail: &str) -> ParseError {
        self.syntax_error_at(self.location(), detail)
    }

    /// A syntax error in MySQL's words, quoting the text from `location` on.
    pub(crate) fn syntax_error_at(&self, location: Location, detail: &str) -> ParseError {
        let near: String = self
            .source
            .text_between(location, self.end_location())
            .chars()
            .take(NEAR_TEXT_LIMIT)
            .collect();
        ParseError::at(
            format!("You have an error in your SQL syntax: {detail} near '{near}'"),
            location,
        )
    }

    /// An error that is not about syntax (an unknown column, a bad length), at `location`.
    pub(crate) fn error_at(&self, location: Location, message: impl Into<String>) -> ParseError {
        ParseError::at(message, location)
    }

    /// A statement Cairn recognizes but does not implement.
    pub(crate) fn unsupported(&self, location: Location, what: &str) -> ParseError {
        ParseError::at(format!("{what} is not supported yet"), location)
    }

    pub(crate) fn sqlparser_error(&self, error: &ParserError) -> ParseError {
        let (detail, location) = split_sqlparser_error(error);
        self.syntax_error_at(location.unwrap_or_else(|| self.end_location()), &detail)
    }
}

/// The text of an unquoted word token.
pub(crate) fn unquoted_word(token: &Token) -> Option<&str> {
    match token {
        Token::Word(word) if word.quote_style.is_none() => Some(word.value.as_str()),
        _ => None,
    }
}
