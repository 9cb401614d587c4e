/// Fake credentials of every shape Keel redacts (`SecretRedactor`), for tests that print them and
/// check they are kept nowhere. Built from parts so that no secret scanner mistakes this file for a leak.
public enum FakeCredentials {
    public static let github = "gh" + "p_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    public static let githubOAuth = "gh" + "o_" + "Zy8Xw6Vu4Ts2Rq0Po8Nm6Lk4Ji2Hg0Fe8Dc6"
    public static let githubApp = "gh" + "s_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
    public static let githubUser = "gh" + "u_" + "M9n8B7v6C5x4Z3l2K1j0H9g8F7d6S5a4P3o2"
    public static let githubFineGrained = "github" + "_pat_" + "11ABCDEFG0123456789abc_" + String(repeating: "xY7z", count: 15)
    public static let anthropic = "sk-" + "ant-api03-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3-_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3AA"
    public static let openAI = "sk-" + "proj-" + "T3BlbkFJq9W8e7R6t5Y4u3I2o1P0a9S8d7F6g5H4j3K2l1Z0x9C8v7B6n5M4"
    public static let aws = "AKIA" + "IOSFODNN7EXAMPLE"
    public static let slack = "xox" + "b-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv"
    public static let jwt = "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
        + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    public static let pemBody = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGcY5unA67hqxnfZmuuA\nb5Jb9QjQzZ6Qv2n0"
    public static let pem = "-----BEGIN " + "RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----"

    public static let all = [github, githubOAuth, githubApp, githubUser, githubFineGrained, anthropic, openAI, aws, slack, jwt, pem]
}
